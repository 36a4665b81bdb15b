"""The Prefect task runner that `engine` in the config selects (wiring only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from fincorpus.config import EngineConfig


def task_runner_for(engine: EngineConfig) -> TaskRunner:
    """`local`: Prefect's default thread pool. `dask`: prefect-dask's DaskTaskRunner on the scheduler at
    `engine.address`, or on a LocalCluster of `engine.workers` started for the run and closed after it."""
    if engine.kind == "local":
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    if engine.address:
        return DaskTaskRunner(address=engine.address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": engine.workers, "threads_per_worker": engine.threads_per_worker,
                                          "processes": engine.processes, "dashboard_address": None})


@contextmanager
def api_for_workers(engine: EngineConfig) -> Iterator[None]:
    """A Prefect API the Dask workers can report to. Without PREFECT_API_URL, Prefect starts an ephemeral
    server on first use, and every worker process would start one of its own (a minute each, and runs
    recorded nowhere): start this process's and hand its URL to the workers through the flow's settings.
    Workers on other machines cannot reach it on 127.0.0.1: there, set PREFECT_API_URL to a shared server."""
    if engine.kind != "dask" or PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield
