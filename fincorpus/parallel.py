"""Per-document stages in worker processes, with the same output as one process.

A batch is cut into tasks of `engine.batch_docs` documents, each task runs in a worker process, and the
results come back in input order (`Executor.map`), so the stages that follow see exactly what a single
process would have produced. Workers are forked when this process runs no other thread, else spawned
(see `_start_method`); a spawned worker imports the caller's `__main__` module again, so a script that calls
`build` needs the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache, partial
from typing import TypeVar

from cleaners import ChainResult, build_chain
from fincorpus.config import CleaningConfig, EngineConfig

Item = TypeVar("Item")
Result = TypeVar("Result")


def worker_count(engine: EngineConfig) -> int:
    return engine.local_workers or os.cpu_count() or 1


def map_batches(function: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item],
                engine: EngineConfig) -> list[Result]:
    """`function` over consecutive batches of `items`, concatenated in order: in worker processes when
    there are two batches or more and more than one worker, else in this process."""
    size = engine.batch_docs
    batches = [items[start:start + size] for start in range(0, len(items), size)]
    workers = min(worker_count(engine), len(batches))
    if workers < 2:
        return [result for batch in batches for result in function(batch)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(_start_method())) as pool:
        return [result for chunk in pool.map(function, batches) for result in chunk]


@lru_cache(maxsize=4)
def _chain(config: CleaningConfig):
    return build_chain(config)


def clean_each(config: CleaningConfig, texts: Sequence[str]) -> list[ChainResult]:
    """The per-document cleaning chain over `texts` (a worker builds the chain once)."""
    chain = _chain(config)
    return [chain(text) for text in texts]


def first_pass_cleaning(config: CleaningConfig, engine: EngineConfig) -> Callable[[Sequence[str]], list[ChainResult]]:
    """What `cleaners.clean_batch` runs as its per-document pass: `clean_each` spread over the workers."""
    return partial(map_batches, partial(clean_each, config), engine=engine)


def _start_method() -> str:
    """`fork` (instant: the worker has every module loaded already) when this process runs no other
    thread; `spawn` otherwise (a Prefect flow runs threads, and a forked copy of a threaded process can
    deadlock on a lock some thread held)."""
    return "fork" if threading.active_count() == 1 else "spawn"
