"""`fincorpus update`: one new batch cleaned, deduplicated within itself and against the store, committed
as one generation.

    read → skip what is stored → first-pass clean → template lines over store + batch → clean again the
    stored documents whose template lines changed → finish cleaning → sign → stored candidates (exact hash,
    banded signatures) → the engine over these documents and the clusters they touch → new lineage → write
    the generation → switch `state/`

Only the new batch (and documents cleaned again) is signed; stored documents are compared through their
stored signatures, and only the candidates' clusters are read back (their cleaned text) and run through the
engine with the batch, so a cluster is settled exactly as a full build would settle it: a report arriving
after its preview becomes the canonical, and the preview's lineage row says it was superseded. Pairs of two
stored documents are not verified again: each generation keeps the edges it verified (`edges.parquet`), and
the engine settles with those (`known_pairs`), so the work grows with the batch and the clusters it touches,
not with the square of their size. Template
lines are counted over the store and the batch (`fincorpus.store.templates`), so documents are cleaned as
one build over all of them would clean them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from fincorpus.config import Config
from fincorpus.dedup import KnownPairs
from fincorpus.dedup.engine import EDGE_SCHEMA
from fincorpus.dedup.incremental import index_shingles
from fincorpus.dedup.passes import Shingler
from fincorpus.dedup.shingles import exact_hash
from fincorpus.dedup.signatures import Signer
from fincorpus.documents import METADATA_COLUMNS, RawDocument, Reason, Status
from fincorpus.errors import OutputError
from fincorpus.io.readers import check_output_outside
from fincorpus.io.writers import describe_os_error
from fincorpus.lineage import LINEAGE_SCHEMA, check_accounting
from cleaners.registry import finish_batch
from fincorpus.lineage import REMOVED_SPANS_SCHEMA
from fincorpus.parallel import first_pass_cleaning
from fincorpus.pipeline import (
    CleanedBatch, Progress, assemble, cleaned_batch, dedup_documents, read_documents, site_of, with_content,
)
from fincorpus.report import render_markdown, render_summary_json
from fincorpus.report.html import render_html
from fincorpus.store.layout import (
    LINES_SCHEMA, REJECTED_SCHEMA, STORED_DOCUMENTS_SCHEMA, STORE_LINEAGE_SCHEMA, StoreLayout, StoreState,
    signatures_schema,
)
from fincorpus.store.shared_index import open_index, touched_documents
from fincorpus.store.templates import TemplateUpdate, batch_lines, holding, settle_templates

_CLUSTER_COLUMNS = ("status", "reason", "detail", "cluster_id", "canonical_id", "similarity", "containment")


@dataclass(frozen=True, slots=True)
class UpdateResult:
    store: Path
    generation: int
    """The store's generation after the run (unchanged when nothing was new)."""
    changed: bool
    """False when every input was already in the store: no generation was written."""
    summary: dict
    batch: pl.DataFrame
    """The batch's lineage: its new inputs, the stored members of the clusters they joined, and refused inputs."""


@dataclass(frozen=True, slots=True)
class BatchPlan:
    new: list[RawDocument]
    rejected: pl.DataFrame
    """REJECTED_SCHEMA rows for inputs whose doc_id is stored with other bytes (not yet recorded)."""
    already_stored: int


def plan_batch(documents: list[RawDocument], state: StoreState, generation: int) -> BatchPlan:
    """Split a batch into new documents, inputs already stored (same doc_id and input bytes: skipped) and
    inputs whose doc_id is stored with other bytes (refused: never merged into the stored document)."""
    stored_hash = dict(zip(state.lineage["doc_id"].to_list(), state.lineage["input_hash"].to_list()))
    refused = set(zip(state.rejected["doc_id"].to_list(), state.rejected["input_hash"].to_list()))
    new, rejected, skipped = [], [], 0
    for doc in documents:
        known = stored_hash.get(doc.doc_id)
        if known is None:
            new.append(doc)
        elif known == doc.input_hash or (doc.doc_id, doc.input_hash) in refused:
            skipped += 1
        else:
            rejected.append((doc.doc_id, doc.input_hash, doc.source, generation, Reason.CHANGED_CONTENT.value,
                             f"the store holds {doc.doc_id} with other content (input_hash {known}); "
                             "give the new version its own id"))
    return BatchPlan(new, pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row"), skipped)


def sign_documents(doc_ids: list[str], texts: list[str], config: Config) -> pl.DataFrame:
    """Exact hash, fingerprint length, and the shingle count and MinHash signature of its body
    (`index_shingles`) of each document, from the compiled fingerprint and windows the engine uses
    (`passes.Shingler`: equal to `fingerprint_text`, `legal_section_start` and `window_hashes`)."""
    dedup = config.dedup
    shingler = Shingler(dedup)
    exact, lengths, shingle_sets = [], [], []
    for text in texts:
        codes, legal = shingler.fingerprint(text)
        exact.append(exact_hash(codes.tobytes().decode("utf-32-le", "surrogatepass")))
        lengths.append(len(codes))
        long_enough = len(codes) >= dedup.min_chars
        shingle_sets.append(index_shingles(shingler.windows(codes), legal, dedup) if long_enough
                            else np.empty(0, dtype=np.uint64))
    signatures = Signer(dedup.num_perm, dedup.seed).sign_all(shingle_sets)
    frame = pl.DataFrame({"doc_id": doc_ids, "exact_hash": np.array(exact, dtype=np.uint64),
                          "fingerprint_chars": lengths, "shingles": [len(shingles) for shingles in shingle_sets],
                          "signature": signatures}, schema=signatures_schema(dedup.num_perm))
    return frame.with_columns(pl.when(pl.col("shingles") > 0).then(pl.col("signature")).alias("signature"))


@dataclass(frozen=True, slots=True)
class Cleaning:
    subjects: list[RawDocument]
    """The batch's new documents, then the stored documents cleaned again."""
    cleaned: CleanedBatch
    lines: pl.DataFrame
    """LINES_SCHEMA rows of the new documents."""
    templates: TemplateUpdate
    again: list[str]
    """doc_ids of the stored documents cleaned again: they hold a line whose template status changed."""


def clean_batch(new: list[RawDocument], layout: StoreLayout, state: StoreState, config: Config) -> Cleaning:
    """Clean the new documents with the template lines of the store and the batch together, and clean again
    the stored documents those lines change (see `fincorpus.store.templates`)."""
    readable = [doc for doc in new if doc.status is None]
    sites = [site_of(doc) for doc in readable]
    run_first_pass = first_pass_cleaning(config.cleaning, config.engine)
    results = run_first_pass([doc.text for doc in readable])
    lines = batch_lines([doc.doc_id for doc in readable], [result.text for result in results], sites, config.cleaning)
    parts = layout.parts("lines.parquet", state.generation)
    stored_lines = pl.scan_parquet(parts) if parts else pl.LazyFrame(schema=LINES_SCHEMA)
    templates = settle_templates(stored_lines, state.sites, state.templates, lines, sites, config.cleaning)
    again_ids = holding(stored_lines, templates.changed)
    again = stored_documents(layout, state.lineage, again_ids)
    readable += again
    sites += [site_of(doc) for doc in again]
    results += run_first_pass([doc.text for doc in again])
    finish_batch(results, sites, templates.by_site(), config.cleaning)
    return Cleaning(new + again, cleaned_batch(zip(readable, results)), lines, templates, again_ids)


def stored_documents(layout: StoreLayout, lineage: pl.DataFrame, doc_ids: list[str]) -> list[RawDocument]:
    """Stored documents as read, to be cleaned again."""
    if not doc_ids:
        return []
    wanted = pl.Series(doc_ids, dtype=pl.String).implode()
    rows = (layout.current("documents.parquet", lineage, STORED_DOCUMENTS_SCHEMA)
            .filter(pl.col("doc_id").is_in(wanted)).collect()
            .join(lineage.select("doc_id", "input_hash", "encoding"), on="doc_id").sort("doc_id"))
    return [RawDocument(row["doc_id"], row["source"], row["input_hash"], row["text_as_read"], row["encoding"],
                        {key: row[key] for key in METADATA_COLUMNS}, detail=row["read_detail"] or "")
            for row in rows.iter_rows(named=True)]


def stored_texts(layout: StoreLayout, lineage: pl.DataFrame, doc_ids: Iterable[str]) -> pl.DataFrame:
    """The current cleaned text of stored documents."""
    wanted = pl.Series(sorted(set(doc_ids)), dtype=pl.String)
    if wanted.is_empty():
        return pl.DataFrame(schema={"doc_id": pl.String, "text": pl.String})
    return (layout.current("documents.parquet", lineage, STORED_DOCUMENTS_SCHEMA)
            .filter(pl.col("doc_id").is_in(wanted.implode())).select("doc_id", "text").collect())


def known_pairs(layout: StoreLayout, state: StoreState, members: pl.DataFrame) -> KnownPairs:
    """The stored documents among `members` (STORE_LINEAGE_SCHEMA rows) whose pairs are all on record, and
    the edges among them, for the engine not to propose and verify them again. Each generation keeps the
    edges it verified (`edges.parquet`); a document is on record when it was cleaned in a generation from
    which on every generation has that table (older stores have their pairs verified again), and an edge
    counts when it was verified after both of its documents' current cleaning."""
    first = state.generation + 1
    while first > 1 and (layout.generation_dir(first - 1) / "edges.parquet").is_file():
        first -= 1
    known = members.filter(pl.col("cleaned_in") >= first).select("doc_id", "cleaned_in")
    if known.is_empty():
        return KnownPairs([], pl.DataFrame(schema=EDGE_SCHEMA))
    parts = [pl.scan_parquet(layout.generation_dir(number) / "edges.parquet")
             .with_columns(pl.lit(number, dtype=pl.Int64).alias("verified_in"))
             for number in range(first, state.generation + 1)]
    side = known.lazy()
    edges = (pl.concat(parts)
             .join(side.rename({"doc_id": "left_id", "cleaned_in": "left_cleaned"}), on="left_id")
             .join(side.rename({"doc_id": "right_id", "cleaned_in": "right_cleaned"}), on="right_id")
             .filter(pl.col("verified_in") >= pl.max_horizontal("left_cleaned", "right_cleaned"))
             .select(list(EDGE_SCHEMA)).collect())
    return KnownPairs(known["doc_id"].to_list(), edges)


def compared_in_store(layout: StoreLayout, lineage: pl.DataFrame) -> int:
    """How many of the stored documents of `lineage` a build would compare: long enough (signed) and not an
    exact duplicate of another."""
    signed = (layout.current("signatures.parquet", lineage, {"doc_id": pl.String, "shingles": pl.Int64})
              .filter(pl.col("shingles") > 0).select("doc_id"))
    exact = lineage.lazy().filter(pl.col("reason") == Reason.EXACT_DUPLICATE.value).select("doc_id")
    return signed.join(exact, on="doc_id", how="anti").select(pl.len()).collect().item()


def apply_batch(documents: list[RawDocument], store: str | Path, config: Config,
                progress: Progress | None = None) -> UpdateResult:
    """Add a batch (already read) to the store: the library entry point of `fincorpus update`."""
    say = progress or (lambda stage: None)
    layout = StoreLayout(store)
    try:
        with layout.locked():
            layout.open(config, create=True)
            committed = layout.recover()
            return _apply_locked(documents, layout, layout.read_state(), committed + 1, config, say)
    except OSError as exc:  # one line, exit 2; the update flow retries it (the store is still as it was)
        raise OutputError(describe_os_error(exc, layout.root).replace("--out", "--store")) from None


def update(inputs: Iterable[str | Path], store: str | Path, config: Config,
           progress: Progress | None = None) -> UpdateResult:
    """Read INPUTS and add them to the store (see `apply_batch`)."""
    check_output_outside(inputs := list(inputs), store, "--store")
    (progress or (lambda stage: None))("read")
    return apply_batch(read_documents(inputs, config), store, config, progress)


def _apply_locked(documents: list[RawDocument], layout: StoreLayout, state: StoreState, generation: int,
                  config: Config, say: Progress) -> UpdateResult:
    plan = plan_batch(documents, state, generation)
    if not plan.new and plan.rejected.is_empty():
        summary = _summary(plan, pl.DataFrame(schema=STORE_LINEAGE_SCHEMA), state.lineage, generation - 1, 0)
        return UpdateResult(layout.root, generation - 1, False, summary, pl.DataFrame(schema=STORE_LINEAGE_SCHEMA))
    say("clean")
    cleaning = clean_batch(plan.new, layout, state, config)
    cleaned = cleaning.cleaned
    say("deduplicate")
    kept = with_content(cleaned)
    signed = sign_documents(kept["doc_id"].to_list(), kept["text"].to_list(), config)
    again = pl.Series(cleaning.again, dtype=pl.String).implode()
    stored = state.lineage.filter(~pl.col("doc_id").is_in(again))  # as they stay; the others are cleaned anew
    index = open_index(layout, config)
    # The index also holds the earlier signatures of the documents cleaned again: they only propose more.
    touched = touched_documents(signed, layout, index, state.generation, config)
    clusters = (state.lineage.filter(pl.col("doc_id").is_in(list(touched)) | pl.col("doc_id").is_in(again))
                ["cluster_id"].drop_nulls().unique())
    members = stored.filter(pl.col("cluster_id").is_in(clusters.implode()))
    known = dataclasses.replace(known_pairs(layout, state, members),
                                corpus_documents=compared_in_store(layout, stored) + signed.height)
    old = stored_texts(layout, state.lineage, members["doc_id"].to_list())
    together = CleanedBatch(pl.concat([old, kept.select("doc_id", "text")]), cleaned.removed_spans.clear())
    dedup = dedup_documents(together, config, known=known)

    say("write")
    subject_ids = pl.Series([doc.doc_id for doc in cleaning.subjects], dtype=pl.String).implode()
    assembled = assemble(cleaning.subjects, cleaned, dataclasses.replace(
        dedup, assignments=dedup.assignments.filter(pl.col("doc_id").is_in(subject_ids))))
    first_generation = state.lineage.select("doc_id", pl.col("generation").alias("stored_generation"))
    subjects = (assembled.lineage.join(first_generation, on="doc_id", how="left")
                .with_columns(pl.col("stored_generation").fill_null(generation).alias("generation"),
                              pl.lit(generation, dtype=pl.Int64).alias("cleaned_in")))
    added_lineage = subjects.filter(~pl.col("doc_id").is_in(again))
    resettled = _resettle(members, dedup.assignments, generation)
    superseded = resettled.filter(pl.col("detail").str.contains(f"superseded in generation {generation},",
                                                                literal=True)).height
    lineage = (pl.concat([stored.filter(~pl.col("doc_id").is_in(resettled["doc_id"].implode())),
                          resettled, subjects.select(list(STORE_LINEAGE_SCHEMA))])
               .select(list(STORE_LINEAGE_SCHEMA)).cast(STORE_LINEAGE_SCHEMA).sort("doc_id"))
    canonical = lineage.filter(pl.col("status") == Status.CANONICAL.value).select("doc_id")
    check_accounting(lineage["doc_id"].to_list(), lineage, canonical)

    batch = (pl.concat([resettled, subjects.select(list(STORE_LINEAGE_SCHEMA)), _rejected_rows(plan.rejected)])
             .cast(STORE_LINEAGE_SCHEMA).sort("doc_id"))
    layout.write_generation(generation, {
        "documents": _documents_part(cleaning.subjects, cleaned),
        "signatures": signed,
        "removed_spans": cleaned.removed_spans.sort("doc_id", "start", "end", "rule"),
        "lines": cleaning.lines.sort("site", "line", "doc_id"),
        "edges": dedup.edges,
        "batch": batch,
        **index.generation_tables(signed),
    }, _batch_reports(batch, lineage, cleaned))
    say("commit")
    layout.commit(StoreState(generation, lineage, pl.concat([state.rejected, plan.rejected]).sort("doc_id", "input_hash"),
                             cleaning.templates.sites, cleaning.templates.templates))
    index.committed(generation)
    summary = _summary(plan, added_lineage, lineage, generation, superseded, len(cleaning.again), members.height)
    return UpdateResult(layout.root, generation, True, summary, batch)


def _resettle(members: pl.DataFrame, assignments: pl.DataFrame, generation: int) -> pl.DataFrame:
    """Stored members of the touched clusters with their new cluster, canonical and scores. A canonical that
    became a duplicate says it was superseded; notes from reading (after the first `; `) are kept."""
    if members.is_empty():
        return members
    fresh = assignments.rename({column: f"new_{column}" for column in assignments.columns if column != "doc_id"})
    joined = members.join(fresh, on="doc_id", how="left")
    was_duplicate = pl.col("status") == Status.DUPLICATE.value
    notes = (pl.when(was_duplicate).then(pl.col("detail").str.splitn("; ", 2).struct.field("field_1"))
             .otherwise(pl.col("detail")))
    notes = pl.when(notes == "").then(None).otherwise(notes)
    duplicate_of = pl.format("{} of {}", pl.col("new_reason"), pl.col("new_canonical_id"))
    superseded = pl.format("{} of {} (superseded in generation {}, was canonical)", pl.col("new_reason"),
                           pl.col("new_canonical_id"), pl.lit(generation))
    unchanged = was_duplicate & (pl.col("canonical_id") == pl.col("new_canonical_id")) \
        & (pl.col("reason") == pl.col("new_reason"))
    now_duplicate = pl.col("new_status") == Status.DUPLICATE.value
    detail = (pl.when(now_duplicate & unchanged).then(pl.col("detail"))
              .otherwise(pl.concat_str([pl.when(now_duplicate & ~was_duplicate).then(superseded)
                                        .when(now_duplicate).then(duplicate_of), notes],
                                       separator="; ", ignore_nulls=True)))
    return (joined.with_columns(detail.alias("detail"))
            .with_columns([pl.col(f"new_{column}").alias(column) for column in _CLUSTER_COLUMNS if column != "detail"])
            .select(list(STORE_LINEAGE_SCHEMA)))


def _rejected_rows(rejected: pl.DataFrame) -> pl.DataFrame:
    return rejected.select(
        "doc_id", "source", "input_hash", pl.lit(None, dtype=pl.String).alias("encoding"),
        pl.lit(Status.QUARANTINED.value).alias("status"), "reason", "detail",
        *(pl.lit(None, dtype=dtype).alias(name) for name, dtype in STORE_LINEAGE_SCHEMA.items()
          if name in ("cluster_id", "canonical_id", "similarity", "containment")),
        *(pl.lit(0, dtype=pl.Int64).alias(name) for name in ("chars_in", "chars_out", "chars_removed",
                                                              "chars_rewritten")),
        "generation", pl.lit(None, dtype=pl.Int64).alias("cleaned_in"),
    ).select(list(STORE_LINEAGE_SCHEMA)).cast(STORE_LINEAGE_SCHEMA)


def _documents_part(new: list[RawDocument], cleaned: CleanedBatch) -> pl.DataFrame:
    """Every new document with a text, as read and as cleaned, with its source and metadata."""
    raw = pl.DataFrame([(doc.doc_id, doc.text, doc.source, *(doc.metadata.get(key) for key in METADATA_COLUMNS),
                         doc.detail) for doc in new if doc.text is not None],
                       schema=["doc_id", "text_as_read", "source", *METADATA_COLUMNS, "read_detail"], orient="row",
                       schema_overrides={key: pl.String for key in ("doc_id", "text_as_read", "source",
                                                                    *METADATA_COLUMNS, "read_detail")})
    return (raw.join(cleaned.documents.select("doc_id", "text"), on="doc_id", how="left")
            .select(list(STORED_DOCUMENTS_SCHEMA)).cast(STORED_DOCUMENTS_SCHEMA).sort("doc_id"))


def _batch_reports(batch: pl.DataFrame, lineage: pl.DataFrame, cleaned: CleanedBatch) -> dict[str, str]:
    """report.md and report.html of the batch (its rows, and the clusters they are in with every member) and
    its summary.json (the counts of its rows, for a scheduler to alert on). The page shows the batch's
    canonical texts; diffs against stored documents need `fincorpus export` (stored texts are not loaded)."""
    clusters = batch["cluster_id"].drop_nulls().unique().implode()
    members = (lineage.filter(pl.col("cluster_id").is_in(clusters))
               .group_by("cluster_id").agg(pl.col("doc_id").sort().alias("member_ids")))
    corpus = (lineage.filter((pl.col("status") == Status.CANONICAL.value) & pl.col("cluster_id").is_in(clusters))
              .join(members, on="cluster_id").select("doc_id", "cluster_id", "member_ids"))
    shown = pl.concat([batch, lineage.filter(pl.col("cluster_id").is_in(clusters)
                                             & ~pl.col("doc_id").is_in(batch["doc_id"].implode()))])
    shown = shown.select(list(LINEAGE_SCHEMA))
    batch_texts = cleaned.documents.select("doc_id", "text")
    page_corpus = corpus.join(batch_texts, on="doc_id", how="left")
    return {"report.md": render_markdown(corpus, shown, cleaned.removed_spans),
            "report.html": render_html({"corpus": page_corpus, "lineage": shown, "removed_spans": cleaned.removed_spans,
                                        "documents": None}),
            "summary.json": render_summary_json(batch.select(list(LINEAGE_SCHEMA)), cleaned.removed_spans)}


def _summary(plan: BatchPlan, added: pl.DataFrame, lineage: pl.DataFrame, generation: int, superseded: int,
             cleaned_again: int = 0, stored_compared: int = 0) -> dict:
    counts = dict(added.group_by("status").len().iter_rows()) if added.height else {}
    return {
        "generation": generation,
        "inputs": len(plan.new) + plan.already_stored + plan.rejected.height,
        "already_stored": plan.already_stored,
        "added": added.height,
        **{status.value: int(counts.get(status.value, 0)) for status in Status},
        "rejected": plan.rejected.height,
        "superseded": superseded,
        "cleaned_again": cleaned_again,
        "stored_compared": stored_compared,
        "documents_in_store": lineage.height,
        "canonical_in_store": lineage.filter(pl.col("status") == Status.CANONICAL.value).height,
    }
