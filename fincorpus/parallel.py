"""Per-document stages in worker processes, with the same output as one process.

A batch is cut into tasks of `engine.batch_docs` documents, each task runs in a worker process, and the
results come back in input order (`Executor.map`), so the stages that follow see exactly what a single
process would have produced. Workers are forked when this process runs no other thread, else spawned
(see `_start_method`); a spawned worker imports the caller's `__main__` module again, so a script that calls
`build` needs the usual `if __name__ == "__main__":` guard. A forked worker must not run polars: a copy of a
process whose polars threads have started waits for them forever.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
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


class Workers:
    """One pool of worker processes for a whole streamed build, started on first use and reused by every
    batch (a pool per batch would start the workers again each time). `submit` hands a batch's tasks to the
    pool and returns at once, so this process can read the next batch meanwhile; `Pending.result()` gives
    the results in input order, as `map_batches` does.

    >>> with Workers(EngineConfig(local_workers=1)) as workers:
    ...     workers.submit(lambda batch: [item * 2 for item in batch], [1, 2, 3]).result()
    [2, 4, 6]
    """

    def __init__(self, engine: EngineConfig) -> None:
        self._engine = engine
        self._pool: Executor | None = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *_) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def submit(self, function: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item]) -> "Pending[Result]":
        size = self._engine.batch_docs
        batches = [items[start:start + size] for start in range(0, len(items), size)]
        return self.map(function, batches, flatten=True)

    def map(self, function: Callable[[Item], Result], tasks: Sequence[Item], flatten: bool = False) -> "Pending":
        """`function(task)` for each task (a list of them, concatenated, when `flatten`), in the worker
        processes when there are two tasks or more and more than one worker, else in this process at once."""
        if min(worker_count(self._engine), len(tasks)) < 2:
            done = [function(task) for task in tasks]
            return Pending(done=[result for chunk in done for result in chunk] if flatten else done)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=worker_count(self._engine),
                                             mp_context=multiprocessing.get_context(_start_method()))
        return Pending(futures=[self._pool.submit(function, task) for task in tasks], flatten=flatten)


class Pending:
    """The results of one `Workers.submit`, in input order."""

    def __init__(self, done: list | None = None, futures: list[Future] | None = None, flatten: bool = True) -> None:
        self._done, self._futures, self._flatten = done, futures or [], flatten

    def result(self) -> list:
        if self._done is None:
            results = [future.result() for future in self._futures]
            self._done = [item for chunk in results for item in chunk] if self._flatten else results
        return self._done


@lru_cache(maxsize=4)
def _chain(config: CleaningConfig):
    return build_chain(config)


def clean_each(config: CleaningConfig, texts: Sequence[str]) -> list[ChainResult]:
    """The per-document cleaning chain over `texts` (a worker builds the chain once)."""
    return _chain(config).clean_all(texts)


def first_pass_cleaning(config: CleaningConfig, engine: EngineConfig) -> Callable[[Sequence[str]], list[ChainResult]]:
    """What `cleaners.clean_batch` runs as its per-document pass: `clean_each` spread over the workers."""
    return partial(map_batches, partial(clean_each, config), engine=engine)


def _start_method() -> str:
    """`fork` (instant: the worker has every module loaded already) when this process runs no other
    thread; `spawn` otherwise (a Prefect flow runs threads, and a forked copy of a threaded process can
    deadlock on a lock some thread held)."""
    return "fork" if threading.active_count() == 1 else "spawn"
