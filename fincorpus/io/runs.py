"""Scratch tables of a streamed build: runs on disk, read back in doc_id order or one text at a time.

A streamed build cleans its documents a batch at a time and writes each batch as a *run*: one Parquet file
sorted by doc_id, in small row groups. Two readers then keep memory bounded by a few row groups whatever
the size of the corpus:

- `merge_runs`: every run's rows in global doc_id order, a chunk at a time (an external merge sort: each
  output chunk takes the next rows of each run, in the proportions the in-memory doc_id index says);
- `RunTexts`: one column of the runs as a read-only `Sequence[str]` indexed by position, for the dedup
  engine: reading in order touches each row group once, random access reads one row group (and caches a
  few).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from cachetools import LRUCache
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

RUN_ROW_GROUP_ROWS = 64
"""Rows per row group of a run: what a merge holds of each run at most (all runs, when doc_ids interleave
across batches), and what one random read of `RunTexts` decodes."""


def write_run(frame: pl.DataFrame, path: Path) -> None:
    """`frame` (already sorted by doc_id) as a run. Fast compression: a run is read once or twice, then removed."""
    pq.write_table(frame.to_arrow(), path, row_group_size=RUN_ROW_GROUP_ROWS, compression="lz4",
                   write_statistics=False)


class _RunCursor:
    """A run read front to back: `take(count)` returns its next `count` rows, holding one row group at most."""

    def __init__(self, path: Path) -> None:
        self._file = pq.ParquetFile(path)
        self._group = 0
        self._buffer = self._file.schema_arrow.empty_table()

    def take(self, count: int) -> pa.Table:
        pieces = []
        while count > 0:
            if self._buffer.num_rows == 0:
                self._buffer = self._file.read_row_group(self._group)
                self._group += 1
            piece = self._buffer.slice(0, count)
            rest = self._buffer.num_rows - piece.num_rows
            # An empty slice would still hold the whole row group: let it go once it is used up.
            self._buffer = self._buffer.slice(piece.num_rows) if rest else self.empty()
            count -= piece.num_rows
            pieces.append(piece)
        return pa.concat_tables(pieces) if pieces else self._file.schema_arrow.empty_table()

    def empty(self) -> pa.Table:
        return self._file.schema_arrow.empty_table()

    def close(self) -> None:
        self._file.close()


def merge_runs(paths: Sequence[Path], order: pl.DataFrame, by: Sequence[str],
               chunk_rows: int) -> Iterator[pl.DataFrame]:
    """The rows of the runs at `paths` in global order, `chunk_rows` of `order`'s rows at a time.

    `order` lists, in the global order, the run each key comes from (`run`, an index into `paths`) and how
    many rows of that run it stands for (`rows`): one per document for a table of documents, its span count
    for a table of spans. Each run must hold its rows in the same order. Each chunk is sorted by `by`.
    """
    cursors = [_RunCursor(path) for path in paths]
    try:
        for start in range(0, order.height, chunk_rows):
            chunk = order.slice(start, chunk_rows)
            taken = chunk.group_by("run").agg(pl.col("rows").sum()).sort("run")
            pieces = [cursors[run].take(rows) for run, rows in taken.iter_rows() if rows]
            table = pa.concat_tables(pieces) if pieces else cursors[0].empty()
            yield pl.from_arrow(table).sort(list(by))
    finally:
        for cursor in cursors:
            cursor.close()


class RunTexts(Sequence[str]):
    """Column `column` of runs as a list of texts on disk: item `i` is row `rows[i]` of run `runs[i]`.

    Row groups are cached (least recently used out), `cache_groups` at most; the sequence pickles without
    its cache, so a worker process can take it along.
    """

    def __init__(self, paths: Sequence[Path], runs: np.ndarray, rows: np.ndarray, column: str,
                 cache_groups: int = 16) -> None:
        self._paths = [Path(path) for path in paths]
        self._runs = np.asarray(runs, dtype=np.int32)
        self._rows = np.asarray(rows, dtype=np.int64)
        self._column = column
        self._cache_groups = max(cache_groups, 1)
        self._cache: LRUCache[tuple[int, int], list[str | None]] = LRUCache(self._cache_groups)

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = int(self._rows[index])
        return self._group(int(self._runs[index]), row // RUN_ROW_GROUP_ROWS)[row % RUN_ROW_GROUP_ROWS]

    def _group(self, run: int, group: int) -> list[str | None]:
        key = (run, group)
        texts = self._cache.get(key)
        if texts is None:
            with pq.ParquetFile(self._paths[run]) as parquet:
                texts = self._cache[key] = parquet.read_row_group(group, columns=[self._column]).column(0).to_pylist()
        return texts

    def __getstate__(self) -> dict:
        return {"paths": self._paths, "runs": self._runs, "rows": self._rows, "column": self._column,
                "cache_groups": self._cache_groups}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["paths"], state["runs"], state["rows"], state["column"], state["cache_groups"])
