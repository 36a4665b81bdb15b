"""The Prefect task runner that `engine` in the config selects (wiring only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
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
    cluster = {"n_workers": engine.workers, "threads_per_worker": engine.threads_per_worker,
               "processes": engine.processes, "dashboard_address": None}
    if engine.processes:  # a cluster of this machine listens on loopback only (threads talk in-process)
        cluster["host"] = "127.0.0.1"
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=cluster)


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


class PrefectExecutor:
    """`fincorpus.partitioned_dedup.Executor` on the flow's task runner: each stage a Prefect task (named after
    its function, no cache key: the arguments are large), its futures passed on to the stages that need them."""

    def __init__(self) -> None:
        self._tasks: dict[Callable, Any] = {}

    def submit(self, function: Callable, *args: Any) -> PrefectFuture:
        wrapped = self._tasks.get(function)
        if wrapped is None:
            wrapped = self._tasks[function] = task(function, name=function.__name__.replace("_", "-"),
                                                   cache_policy=NO_CACHE)
        return wrapped.submit(*args)

    def result(self, handle: PrefectFuture) -> Any:
        return handle.result()
