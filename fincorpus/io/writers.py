"""Writing outputs so that a reader only ever sees a complete set: the old one or the new one.

Two levels:
- `write_parquet_atomic` / `write_text_atomic`: one file appears whole or not at all (temporary file in the
  same directory, fsync, rename).
- `staged_directory(target)` + `switch_in(staging, target)`: a whole output directory is written into a
  staging directory beside it, `.<name>.staging-<pid>`, and switched in as one step. On Linux the switch is
  one `renameat2(RENAME_EXCHANGE)` call that swaps the two directories; elsewhere (or on file systems
  without it) two renames, with the previous directory parked at `.<name>.previous-<pid>` in between and
  put back by `recover(target)` if the process dies there. Any failure before the switch removes the
  staging directory and leaves the target as it was; a killed process leaves at most a stale staging
  directory, which the next run removes.

A directory is only ever replaced if fincorpus wrote it: it holds `MARKER` (or is empty). Anything else
is a user error, so `--out ~` cannot swallow a home directory.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from fincorpus.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent runs into one directory are then not detected
    fcntl = None

MARKER = "manifest.json"
"""The file that marks a directory as one fincorpus wrote (and lists what is in it)."""
_UNMARKED_OUTPUTS = frozenset({"corpus.parquet", "lineage.parquet", "removed_spans.parquet", "report.md",
                               "report.html", "summary.json"})
"""What a build wrote before manifests existed: a directory holding only these may be replaced too."""
_STAGING = ".{name}.staging-"
_PREVIOUS = ".{name}.previous-"
_WORK = ".{name}.work-"
_LOCK = ".{name}.lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def describe_os_error(exc: OSError, out: Path) -> str:
    """One line for an output directory that cannot be written, saying what to do."""
    where = exc.filename or out
    if exc.errno == errno.ENOSPC:
        return f"cannot write to {out}: no space left on the device ({where}); free space or pass another --out"
    if exc.errno == errno.EDQUOT:
        return f"cannot write to {out}: disk quota exceeded ({where}); free space or pass another --out"
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return f"cannot write to {out}: {exc.strerror or 'permission denied'} ({where}); choose another --out"
    return f"cannot write to {out}: {exc.strerror or exc} ({where})"


def _fsync_directory(directory: Path) -> None:
    if sys.platform == "win32":  # directories cannot be opened for fsync there
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def staging_directory(parent: Path, prefix: str) -> Path:
    """A new empty directory in `parent`, with the permissions `mkdir` would give (mkdtemp's are 0700)."""
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(staging, 0o777 & ~_umask())
    return staging


@contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed to `path` (after fsync) when the block ends cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    # Outputs are for others to read too (a reviewer opening report.html): mkstemp's 0600 is not wanted.
    os.chmod(temp, 0o666 & ~_umask())
    try:
        yield temp
        with open(temp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    with _atomic_path(path) as temp:
        write(temp)


PARQUET_ROW_GROUP_ROWS = 1024
"""Rows per row group of every output table: fixed, so a file's bytes depend on its rows alone; small enough
that a writer of texts holds a few MB, not a corpus."""


class ParquetRows:
    """Rows appended in frames of any size, written in row groups of exactly `PARQUET_ROW_GROUP_ROWS` (the
    last one shorter): a table written in one frame or in a thousand has the same bytes. Zstd level 3 and
    no statistics, so that a re-run is byte-identical too."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType]) -> None:
        self._schema = pl.DataFrame(schema=schema).to_arrow(compat_level=pl.CompatLevel.oldest()).schema
        self._names = list(schema)
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd", compression_level=3,
                                        write_statistics=False)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, frame: pl.DataFrame | pa.Table) -> None:
        """Append `frame`'s rows (a polars frame, or an Arrow table of the same columns)."""
        if len(frame) == 0:
            return
        if isinstance(frame, pl.DataFrame):
            frame = frame.select(self._names).to_arrow(compat_level=pl.CompatLevel.oldest())
        table = frame.select(self._names).cast(self._schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= PARQUET_ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        rows = pa.concat_tables(self._pending) if self._pending else self._schema.empty_table()
        start = 0
        while rows.num_rows - start >= PARQUET_ROW_GROUP_ROWS or (final and start < rows.num_rows):
            # One contiguous chunk per column: pages are cut by size, never where the frames happened to end.
            group = rows.slice(start, PARQUET_ROW_GROUP_ROWS).combine_chunks()
            self._writer.write_table(group, row_group_size=PARQUET_ROW_GROUP_ROWS)
            start += PARQUET_ROW_GROUP_ROWS
        rest = rows.slice(start)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> None:
        self._flush(final=True)
        self._writer.close()

    def abandon(self) -> None:
        """Close the file without writing what is pending (it is about to be removed)."""
        try:
            self._writer.close()
        except (OSError, pa.ArrowException):
            pass


@contextmanager
def parquet_rows_atomic(path: Path, schema: dict[str, pl.DataType]) -> Iterator[ParquetRows]:
    """A `ParquetRows` writer into `path`, which appears whole when the block ends without an exception."""
    with _atomic_path(path) as temp:
        writer = ParquetRows(temp, schema)
        try:
            yield writer
        except BaseException:
            writer.abandon()
            raise
        writer.close()


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """`frame` as one Parquet file, with the same bytes as the same rows streamed through `parquet_rows_atomic`."""
    with parquet_rows_atomic(path, dict(frame.schema)) as writer:
        writer.write(frame)


def write_looked_up_parquet_atomic(frame: pl.DataFrame, path: Path, row_group_rows: int) -> None:
    """`frame`, sorted by the column lookups filter on, in row groups of `row_group_rows` with statistics: a
    lookup of a few keys reads only the row groups that may hold them (a store's texts and line counts)."""
    _atomic(path, lambda temp: frame.write_parquet(temp, compression="zstd", compression_level=3,
                                                   row_group_size=row_group_rows))


def write_text_atomic(text: str, path: Path) -> None:
    _atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one system call (Linux renameat2); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # the file system cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(second))


def switch_in(staging: Path, target: Path) -> None:
    """Make the complete directory `staging` become `target` in one step, then remove the previous target.

    `staging` must be on the same file system as `target` (`staged_directory` puts it beside `target`).
    If this raises, `target` still holds the previous outputs (or `recover(target)` puts them back).
    """
    _fsync_directory(staging)
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the previous outputs
    else:
        previous = target.with_name(_PREVIOUS.format(name=target.name) + str(os.getpid()))
        os.rename(target, previous)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(previous, target)
            raise
        shutil.rmtree(previous, ignore_errors=True)
    _fsync_directory(target.parent)


def recover(target: Path) -> None:
    """Undo what a killed run left beside `target`: put back parked outputs, remove stale staging dirs."""
    parent, name = target.parent, target.name
    if not parent.is_dir():
        return
    for leftover in sorted(parent.glob(_PREVIOUS.format(name=name) + "*")):
        if not target.exists():
            os.rename(leftover, target)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in parent.glob(_STAGING.format(name=name) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in parent.glob(_WORK.format(name=name) + "*"):
        if not _running(leftover.name.rsplit("-", 1)[-1].split(".", 1)[0]):
            shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: str) -> bool:
    """Whether process `pid` is alive (its scratch directory is still in use)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a missing or empty directory, or one fincorpus wrote."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UserError(f"--out {target} is a file: pass a directory")
    if (target / MARKER).is_file():
        return
    foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in _UNMARKED_OUTPUTS)
    if not foreign:
        return
    example = foreign[0]
    raise UserError(f"--out {target} holds files fincorpus did not write (e.g. '{example}') and is replaced as a "
                    "whole on each build: pass a new or empty directory")


@contextmanager
def exclusive(target: Path, busy: str | None = None) -> Iterator[None]:
    """Hold `.<name>.lock` beside `target`, so two runs never stage or switch the same directory at once.

    A second holder is refused at once with `UserError(busy)` (by default: another run is writing `target`).
    """
    with open(target.with_name(_LOCK.format(name=target.name)), "a") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(busy or f"another fincorpus run is writing {target}: wait for it or pass another "
                                "--out") from None
        yield


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """A fresh staging directory beside `target`, switched in when the block ends without an exception.

    Issue 7's store and any other output directory use the same two steps:

    >>> with staged_directory(Path("out")) as staging:        # doctest: +SKIP
    ...     write_parquet_atomic(frame, staging / "corpus.parquet")
    ...     write_manifest(staging)
    """
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(target):
        recover(target)
        check_replaceable(target)
        staging = staging_directory(target.parent, _STAGING.format(name=target.name) + f"{os.getpid()}.")
        try:
            yield staging
            switch_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def work_directory(target: Path) -> Iterator[Path]:
    """A scratch directory beside `target` (same file system, out of any input) for the tables a streamed
    build spills between its passes, `.<name>.work-<pid>.<random>`; removed when the block ends, and by
    `recover` after a killed run."""
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    work = staging_directory(target.parent, _WORK.format(name=target.name) + f"{os.getpid()}.")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _file_hash(path: Path) -> str:
    digest = xxhash.xxh3_64()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> Path:
    """List every file of `directory` with its size and xxh3-64 in `MARKER` (written last: its presence
    says the directory is complete). Deterministic: no times, sorted names."""
    files = {path.name: {"bytes": path.stat().st_size, "xxh3_64": _file_hash(path)}
             for path in sorted(directory.iterdir()) if path.is_file() and path.name != MARKER
             and not path.name.startswith(".")}
    path = directory / MARKER
    write_text_atomic(json.dumps({"format": 1, "files": files}, indent=2, sort_keys=True) + "\n", path)
    return path


def verify_manifest(directory: Path) -> list[str]:
    """What differs between `directory` and its manifest (an empty list: the directory is intact)."""
    try:
        listed = json.loads((directory / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"no readable {MARKER} ({type(exc).__name__})"]
    problems = []
    for name, expected in sorted(listed.items()):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != expected["bytes"] or _file_hash(path) != expected["xxh3_64"]:
            problems.append(f"{name}: differs from the manifest")
    return problems
