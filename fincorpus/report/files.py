"""Reports from an output directory's tables: what `fincorpus report DIR` and every build call."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fincorpus.errors import UserError
from fincorpus.io.writers import write_text_atomic
from fincorpus.report.markdown import render_markdown

TABLES = ("corpus", "lineage", "removed_spans")


def load_tables(directory: Path) -> dict[str, pl.DataFrame]:
    missing = [name for name in TABLES if not (directory / f"{name}.parquet").is_file()]
    if missing:
        raise UserError(f"{directory} has no {missing[0]}.parquet: pass the --out directory of a `fincorpus build`")
    return {name: pl.read_parquet(directory / f"{name}.parquet") for name in TABLES}


def write_reports(directory: Path, tables: dict[str, pl.DataFrame] | None = None) -> list[Path]:
    """Render every report of `directory` from its tables (read from disk unless given)."""
    tables = tables or load_tables(directory)
    path = directory / "report.md"
    write_text_atomic(render_markdown(tables["corpus"], tables["lineage"], tables["removed_spans"]), path)
    return [path]
