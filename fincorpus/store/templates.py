"""Template lines across updates: counted over every document the store holds, as one build would count them.

`cleaners.templates` removes a line from a site's documents when enough of them hold it (at least
`template_min_docs`, and `template_min_share` of the site). A build counts over all its documents; an update
counts over the store and the batch together: each generation keeps the counted lines of the documents it
added (`lines.parquet`), `state/` keeps the documents per site and the template lines that follow.

Only lines of the batch can become template lines (the others' counts stay, their sites grow), and only
template lines of the batch's sites can stop being ones (their sites grow). So an update reads the stored
counts of those lines alone, and finds the lines whose status changed. The stored documents of the site that
hold such a line are cleaned again (their cleaning would differ in a build over all documents), so after
every update each stored document is cleaned as one build over everything stored would clean it.

For example, with the defaults (20 documents and half the site): ten pages of a site a day, each ending in
"返回顶部". The first update keeps the line (10 pages are fewer than 20); the second counts it in 20 of 20
pages, removes it from its own ten and cleans the first ten again to remove it there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from cleaners.registry import batch_templates
from cleaners.templates import LineCounts, document_lines
from fincorpus.config import CleaningConfig
from fincorpus.store.layout import LINES_SCHEMA, SITES_SCHEMA, TEMPLATES_SCHEMA


@dataclass(frozen=True, slots=True)
class TemplateUpdate:
    sites: pl.DataFrame
    """SITES_SCHEMA: documents per site, the batch's included."""
    templates: pl.DataFrame
    """TEMPLATES_SCHEMA: every site's template lines after the batch."""
    changed: pl.DataFrame
    """site, line: lines that became template lines with this batch or stopped being ones."""

    def by_site(self) -> dict[str, frozenset[str]]:
        """The template lines as `cleaners.registry.finish_batch` takes them."""
        grouped = self.templates.group_by("site").agg("line")
        return {site: frozenset(lines) for site, lines in grouped.iter_rows()}


def batch_lines(doc_ids: Sequence[str], texts: Sequence[str], sites: Sequence[str],
                config: CleaningConfig) -> pl.DataFrame:
    """LINES_SCHEMA rows of first-pass cleaned `texts`: what template counting counts, per document."""
    lines = document_lines(texts, sites, config.template_max_chars)
    ids = pl.DataFrame({"doc_id": list(doc_ids)}, schema={"doc_id": pl.String}).with_row_index("doc")
    return (lines.join(ids, on="doc").select("doc_id", pl.col("source").alias("site"), "line")
            .cast(LINES_SCHEMA))


def settle_templates(stored_lines: pl.LazyFrame, sites: pl.DataFrame, templates: pl.DataFrame,
                     batch: pl.DataFrame, batch_sites: Sequence[str], config: CleaningConfig) -> TemplateUpdate:
    """Template lines over the stored documents and the batch.

    `stored_lines` are the LINES_SCHEMA rows of every stored document, `sites` and `templates` the store's
    state, `batch` the LINES_SCHEMA rows of the batch and `batch_sites` the site of each of its documents
    (readable ones, with lines or not)."""
    added = (pl.DataFrame({"site": list(batch_sites)}, schema={"site": pl.String})
             .group_by("site").agg(pl.len().cast(pl.Int64).alias("docs")))
    all_sites = (pl.concat([sites, added]).group_by("site").agg(pl.col("docs").sum())
                 .cast(SITES_SCHEMA).sort("site"))
    if config.template_min_docs <= 0:
        return TemplateUpdate(all_sites, templates.clear(), templates.clear())
    touched = added["site"].implode()
    before = templates.filter(pl.col("site").is_in(touched))
    relevant = pl.concat([batch.select("site", "line"), before]).unique()
    stored_counts = (stored_lines.filter(pl.col("line").is_in(relevant["line"].unique().implode()))
                     .join(relevant.lazy(), on=["site", "line"], how="semi")
                     .group_by("site", "line").agg(pl.len().cast(pl.Int64).alias("docs")).collect())
    batch_counts = batch.group_by("site", "line").agg(pl.len().cast(pl.Int64).alias("docs"))
    counts = LineCounts(pl.concat([stored_counts, batch_counts]).group_by("site", "line").agg(pl.col("docs").sum())
                        .rename({"site": "source"}),
                        all_sites.filter(pl.col("site").is_in(touched))
                        .rename({"site": "source", "docs": "source_docs"}))
    found = batch_templates(counts, config)
    after = pl.DataFrame([(site, line) for site, lines in found.items() for line in sorted(lines)],
                         schema=TEMPLATES_SCHEMA, orient="row")
    changed = pl.concat([after.join(before, on=["site", "line"], how="anti"),
                         before.join(after, on=["site", "line"], how="anti")])
    kept = templates.filter(~pl.col("site").is_in(touched))
    return TemplateUpdate(all_sites, pl.concat([kept, after]).sort("site", "line"), changed.sort("site", "line"))


def holding(stored_lines: pl.LazyFrame, changed: pl.DataFrame) -> list[str]:
    """Stored documents that hold one of the `changed` (site, line) pairs: their cleaning changes."""
    if changed.is_empty():
        return []
    return (stored_lines.filter(pl.col("line").is_in(changed["line"].unique().implode()))
            .join(changed.lazy(), on=["site", "line"], how="semi")
            .select("doc_id").unique().sort("doc_id").collect()["doc_id"].to_list())


def empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=LINES_SCHEMA)
