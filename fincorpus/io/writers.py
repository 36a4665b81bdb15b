"""Atomic writes: every output appears whole or not at all (temp file in the same directory + rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        with open(temp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    # Statistics off and a fixed compression level keep a re-run byte-identical.
    _atomic(path, lambda temp: frame.write_parquet(temp, compression="zstd", compression_level=3, statistics=False))


def write_text_atomic(text: str, path: Path) -> None:
    _atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))
