"""Reports from an output directory's tables: what `fincorpus report DIR` and every build call."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fincorpus.errors import UserError
from fincorpus.io.writers import MARKER, write_manifest, write_text_atomic
from fincorpus.report.html import Limits, render_html
from fincorpus.report.markdown import render_markdown
from fincorpus.report.summary import merged_clusters
from fincorpus.report.summary import render_summary_json

TABLES = ("corpus", "lineage", "removed_spans")
REPORT_FILES = ("report.md", "summary.json", "report.html")


def load_tables(directory: Path, lineage: pl.DataFrame | None = None,
                limits: Limits | None = None) -> dict[str, pl.DataFrame | pl.LazyFrame | None]:
    """What the reports read of `directory`'s tables: lineage and removed_spans whole (no document texts in
    either; `lineage` when the caller holds it already), the corpus rows of the clusters report.html shows
    (not every text), and `documents` scanned lazily (the page reads only the documents it shows)."""
    missing = [name for name in TABLES if not (directory / f"{name}.parquet").is_file()]
    if missing:
        raise UserError(f"{directory} has no {missing[0]}.parquet: pass the --out directory of a `fincorpus build`")
    if lineage is None:
        lineage = pl.read_parquet(directory / "lineage.parquet")
    shown = merged_clusters(lineage).head((limits or Limits()).clusters)["cluster_id"]
    corpus = (pl.scan_parquet(directory / "corpus.parquet").filter(pl.col("cluster_id").is_in(shown.implode()))
              .collect(engine="streaming"))
    documents = directory / "documents.parquet"
    return {"corpus": corpus, "lineage": lineage, "removed_spans": pl.read_parquet(directory / "removed_spans.parquet"),
            "documents": pl.scan_parquet(documents) if documents.is_file() else None}


def write_reports(directory: Path, tables: dict[str, pl.DataFrame | pl.LazyFrame | None] | None = None,
                  limits: Limits | None = None) -> list[Path]:
    """Render report.md, summary.json and report.html of `directory` from its tables (read from disk unless given)."""
    tables = tables or load_tables(directory, limits=limits)
    corpus, lineage, removed_spans = tables["corpus"], tables["lineage"], tables["removed_spans"]
    rendered = {
        "report.md": render_markdown(corpus, lineage, removed_spans),
        "summary.json": render_summary_json(lineage, removed_spans),
        "report.html": render_html(tables, limits),
    }
    paths = []
    for name in REPORT_FILES:
        write_text_atomic(rendered[name], directory / name)
        paths.append(directory / name)
    return paths


def rerender_reports(directory: Path) -> list[Path]:
    """`fincorpus report DIR`: the reports again from DIR's tables; a manifest.json in DIR is brought up to date."""
    written = write_reports(directory)
    if (directory / MARKER).is_file():
        write_manifest(directory)
    return written
