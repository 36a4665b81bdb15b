"""`fincorpus serve`: the update flow served on a cron or interval schedule (`flow.serve`).

Each scheduled run reads every file under the watched directory; the store skips what it already holds
(same doc_id and input bytes), so a run adds exactly the files that arrived since the last one. Runs never
overlap (concurrency limit 1, and the store's lock refuses a second writer). Schedules need a Prefect server
with its scheduler (`prefect server start`, then PREFECT_API_URL): the embedded one that `fincorpus build`
starts has none.
"""

from __future__ import annotations

from pathlib import Path

from fincorpus.config import Config
from fincorpus.errors import UserError
from flows.update import update_store

DEPLOYMENT = "scheduled-update"


def _options(watch: Path, store_dir: Path, config: Config, cron: str | None, interval: float | None) -> dict:
    return {
        "name": DEPLOYMENT, "cron": cron, "interval": interval,
        "parameters": {"inputs": [str(watch)], "store_dir": str(store_dir), "config": config.model_dump(mode="json")},
        "description": f"Adds new files under {watch} to the corpus store {store_dir}.",
    }


def deployment(watch: Path, store_dir: Path, config: Config, cron: str | None = None, interval: float | None = None):
    """The deployment `serve` runs, built without serving it (to inspect its schedule and parameters)."""
    return update_store.to_deployment(**_options(watch, store_dir, config, cron, interval), concurrency_limit=1)


def serve(watch: Path, store_dir: Path, config: Config, cron: str | None = None, interval: float | None = None) -> None:
    """Serve the update flow on its schedule until interrupted (Ctrl-C or SIGTERM)."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise UserError("fincorpus serve needs a Prefect server to run its schedule: start one with `prefect server "
                        "start` and set PREFECT_API_URL=http://127.0.0.1:4200/api")
    update_store.serve(**_options(watch, store_dir, config, cron, interval), global_limit=1)
