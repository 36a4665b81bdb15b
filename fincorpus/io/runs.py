"""Scratch tables of a streamed build: runs on disk, read back in doc_id order or one text at a time.

A streamed build cleans its documents a batch at a time and writes each batch, sorted by doc_id, as *runs*:
its texts (as read, and cleaned) as text files (`write_texts`: UTF-8 back to back, and their offsets), and
its removed spans as a Parquet file in small row groups. Two readers then keep memory bounded by a few row
groups or a chunk of texts whatever the size of the corpus:

- `merge_runs`: every Parquet run's rows in global doc_id order, a chunk at a time (an external merge sort:
  each output chunk takes the next rows of each run, in the proportions the in-memory doc_id index says);
- `RunTexts`: texts as a read-only `Sequence[str]` indexed by position, for the dedup engine: any text is one
  `pread` of its own bytes, so the verifier's random reads cost microseconds whatever the corpus size (a
  Parquet row group per read cost ~2 ms, most of a 100k build's time); and a range of positions as one Arrow
  array (`RunTexts.column`), for the merge of the texts into the outputs in doc_id order.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

RUN_ROW_GROUP_ROWS = 64
"""Rows per row group of a run: what a merge holds of each run at most (all runs, when doc_ids interleave
across batches)."""
_WRITE_BYTES = 1 << 20
"""A text run is written this many bytes per `write` call. The kernel sizes page-cache folios by the write: one
call of a whole run (~90 MB) took 2 MB folios, ~13 s of system time per GB on the VM measured, against
~0.5 s per GB in 1 MB calls."""
_OPEN_RUNS = 64
"""Run files each thread reading a `RunTexts` keeps open, the least recently used closed beyond: opening and
closing a file per text read cost ~45 µs, 2.6 CPU-s of a 20k-document build."""


def write_run(frame: pl.DataFrame | pa.Table, path: Path) -> None:
    """`frame` (already sorted by doc_id) as a run. Fast compression: a run is read once, then removed. No
    dictionary encoding: texts seldom repeat."""
    table = frame if isinstance(frame, pa.Table) else frame.to_arrow()
    pq.write_table(table, path, row_group_size=RUN_ROW_GROUP_ROWS, compression="lz4", use_dictionary=False,
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


def write_texts(texts: pa.Array | pa.ChunkedArray, path: Path) -> None:
    """`texts` (strings, nulls allowed) for `RunTexts`: their UTF-8 bytes back to back at `path`, and at
    `offsets_path(path)` where each begins and ends, and which are null."""
    array = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    array = array.cast(pa.large_string())
    _, offset_buffer, data = array.buffers()
    offsets = (np.frombuffer(offset_buffer, dtype=np.int64, count=len(array) + 1, offset=8 * array.offset).copy()
               if len(array) else np.zeros(1, dtype=np.int64))
    with open(path, "wb") as file:
        if len(array):
            view = memoryview(data)
            for start in range(int(offsets[0]), int(offsets[-1]), _WRITE_BYTES):
                file.write(view[start:min(start + _WRITE_BYTES, int(offsets[-1]))])
    offsets -= offsets[0]
    nulls = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else np.zeros(len(array), bool)
    with open(offsets_path(path), "wb") as file:
        np.savez(file, offsets=offsets, nulls=nulls)


def offsets_path(path: Path) -> Path:
    return path.with_name(path.name + ".offsets.npz")


class RunTexts(Sequence[str]):
    """Texts written by `write_texts` as a list: item `i` is text `rows[i]` of file `paths[runs[i]]`. Holds
    each file's offsets (9 bytes a text), read when the file is first used; pickles without them, so a
    worker process can take it along."""

    def __init__(self, paths: Sequence[Path], runs: np.ndarray, rows: np.ndarray) -> None:
        self._paths = [Path(path) for path in paths]
        self._runs = np.asarray(runs, dtype=np.int32)
        self._rows = np.asarray(rows, dtype=np.int64)
        self._offsets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._open = threading.local()  # per thread: one thread never closes a file another is reading

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        run, row = int(self._runs[index]), int(self._rows[index])
        offsets, nulls = self._offsets_of(run)
        if nulls[row]:
            return None
        return self._bytes(run, int(offsets[row]), int(offsets[row + 1])).decode("utf-8", "surrogatepass")

    def column(self, start: int, stop: int) -> pa.LargeStringArray:
        """Items `start` to `stop` as one Arrow array, each run's among them read in one `pread` of the bytes
        from its first to its last (a merge in doc_id order takes consecutive rows of each run), never
        decoded to Python strings."""
        runs, rows = self._runs[start:stop], self._rows[start:stop]
        pieces, positions, base = [], np.empty(len(runs), dtype=np.int64), 0
        for run in np.unique(runs):
            of_run = runs == run
            first, last = int(rows[of_run].min()), int(rows[of_run].max()) + 1
            pieces.append(self._array(int(run), first, last))
            positions[of_run] = rows[of_run] - first + base
            base += last - first
        if not pieces:
            return pa.array([], pa.large_string())
        whole = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        return whole if np.array_equal(positions, np.arange(len(whole))) else whole.take(positions)

    def _array(self, run: int, first: int, last: int) -> pa.LargeStringArray:
        """Rows `first` to `last` of run `run` as an Arrow array over the bytes read (no copy)."""
        offsets, nulls = self._offsets_of(run)
        bounds = offsets[first:last + 1] - offsets[first]
        data = self._bytes(run, int(offsets[first]), int(offsets[last]))
        missing = nulls[first:last]
        validity = pa.array(~missing).buffers()[1] if missing.any() else None
        return pa.LargeStringArray.from_buffers(last - first, pa.py_buffer(bounds), pa.py_buffer(data), validity,
                                                int(missing.sum()))

    def _offsets_of(self, run: int) -> tuple[np.ndarray, np.ndarray]:
        known = self._offsets.get(run)
        if known is None:
            with np.load(offsets_path(self._paths[run])) as saved:
                known = self._offsets[run] = (saved["offsets"], saved["nulls"])
        return known

    def _bytes(self, run: int, start: int, end: int) -> bytes:
        files = getattr(self._open, "files", None)
        if files is None:
            files = self._open.files = _OpenFiles(self._paths)
        descriptor = files.descriptor(run)
        pieces = []
        while start < end:  # one read returns 2 GB at most
            piece = os.pread(descriptor, end - start, start)
            if not piece:
                raise OSError(f"{self._paths[run]} ends before byte {end}")
            pieces.append(piece)
            start += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def __getstate__(self) -> dict:
        return {"paths": self._paths, "runs": self._runs, "rows": self._rows}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["paths"], state["runs"], state["rows"])


class _OpenFiles:
    """One thread's open run files (descriptors by run), at most `_OPEN_RUNS`: the least recently used is
    closed to open another; all are closed with this object (when its thread or its `RunTexts` goes)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = paths
        self._descriptors: OrderedDict[int, int] = OrderedDict()

    def descriptor(self, run: int) -> int:
        descriptor = self._descriptors.get(run)
        if descriptor is not None:
            self._descriptors.move_to_end(run)
            return descriptor
        descriptor = self._descriptors[run] = os.open(self._paths[run], os.O_RDONLY)
        if len(self._descriptors) > _OPEN_RUNS:
            os.close(self._descriptors.popitem(last=False)[1])
        return descriptor

    def __del__(self) -> None:
        for descriptor in self._descriptors.values():
            os.close(descriptor)
        self._descriptors.clear()
