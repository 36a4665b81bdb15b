"""The store's current corpus as the outputs of `fincorpus build`: corpus, lineage, removed spans, report.

Reads the committed generation only (`state/` and the generation directories it reaches, which never
change), so an export runs beside an update and sees the store before or after it, never between.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fincorpus.documents import Status
from fincorpus.errors import UserError
from fincorpus.lineage import CORPUS_SCHEMA, DOCUMENTS_SCHEMA, LINEAGE_SCHEMA, REMOVED_SPANS_SCHEMA, check_accounting
from fincorpus.pipeline import BuildResult, OutputTables, write_outputs
from fincorpus.report import summarize
from fincorpus.store.layout import STORED_DOCUMENTS_SCHEMA, StoreLayout


def store_tables(store: str | Path) -> OutputTables:
    """corpus, lineage, removed_spans and documents of the store's committed generation, as a build has them."""
    layout = StoreLayout(store)
    state = layout.read_state()
    if state.generation == 0:
        raise UserError(f"--store {layout.root} holds no committed generation: run `fincorpus update INPUT "
                        f"--store {layout.root}` first")
    lineage = state.lineage.select(list(LINEAGE_SCHEMA)).sort("doc_id")
    canonical = lineage.filter(pl.col("status") == Status.CANONICAL.value)
    stored = (layout.current("documents.parquet", state.lineage, STORED_DOCUMENTS_SCHEMA)
              .join(lineage.lazy().select("doc_id", "status"), on="doc_id").collect())
    members = (lineage.filter(pl.col("cluster_id").is_not_null())
               .group_by("cluster_id").agg(pl.col("doc_id").sort().alias("member_ids")))
    corpus = (canonical.join(stored.select("doc_id", "text", "url", "title", "date"), on="doc_id", how="left")
              .join(members, on="cluster_id", how="left")
              .select(list(CORPUS_SCHEMA)).cast(CORPUS_SCHEMA).sort("doc_id"))
    documents = (stored.select("doc_id", "text_as_read", pl.when(pl.col("status") != Status.CANONICAL.value)
                               .then(pl.col("text")).alias("text_cleaned"))
                 .select(list(DOCUMENTS_SCHEMA)).cast(DOCUMENTS_SCHEMA).sort("doc_id"))
    removed = (layout.current("removed_spans.parquet", state.lineage, REMOVED_SPANS_SCHEMA).collect()
               .sort("doc_id", "start", "end", "rule"))
    check_accounting(lineage["doc_id"].to_list(), lineage, corpus)
    return OutputTables(corpus, lineage, removed, documents)


def export_store(store: str | Path, out: str | Path) -> BuildResult:
    """Write the store's current corpus into `out` exactly as `fincorpus build` writes its outputs."""
    tables = store_tables(store)
    out = Path(out)
    write_outputs(tables, out)
    return BuildResult(out, tables, summarize(tables.lineage))

