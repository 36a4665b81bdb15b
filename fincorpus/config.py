"""The whole configuration as one typed model.

`config.yaml` at the repository root holds the same defaults, commented; a test keeps the two equal.
Code receives the config object (or the slice it needs) as an argument: nothing reads globals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cleaners.chrome import chrome_rules, read_rule_files

from fincorpus.errors import UserError


MAX_TITLE_CHARS = 1000
"""Largest `dedup.title_chars`: verification aligns two texts (difflib) only when both are this short."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(_Section):
    follow_symlinks: bool = False
    """Follow symbolic links found while walking an input directory (never links that leave the input tree)."""
    max_doc_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """A file or record larger than this is quarantined with reason `too_large` instead of being read.
    8 MiB is ~2.8 M Chinese characters; processing memory grows ~30x the document's size."""
    min_encoding_confidence: float = Field(default=0.8, ge=0, le=1)
    """A guessed encoding (no BOM, not UTF-8) is used only when charset-normalizer's confidence in it (1 minus
    its mess ratio) reaches this; below it the file is quarantined as `undecodable`."""


class CleaningConfig(_Section):
    ftfy: Literal["auto", "always", "never"] = "auto"
    """Mojibake repair: `auto` runs ftfy only on documents a cheap check flags (ftfy costs ~2 MB/s)."""
    fold_width: bool = True
    """NFKC folding of width and presentation forms: 全角 letters, digits and space, half-width katakana, styled
    letters, CJK compatibility ideographs, Kangxi radicals (not …, ①, ™ or ㎡: see cleaners.unicode)."""
    punctuation: Literal["halfwidth", "keep"] = "halfwidth"
    """`halfwidth` folds full-width punctuation too (，→,); `keep` leaves punctuation as written."""
    opencc: str | None = "t2s"
    """OpenCC conversion profile applied to the text (t2s, tw2s, hk2s, ...); null turns conversion off."""
    rules: tuple[str, ...] = ("generic",)
    """Chrome rule sets: names of files in cleaners/rules/ (without .yaml) or paths to YAML files."""
    emoji_rewrites: bool = True
    """Remove social-media rewrites of a report ("🌟【…】🚀🔥…") as whole paragraphs (cleaners/emoji.py)."""
    emoji_min_count: int = Field(default=3, ge=1)
    """A line with at least this many emoji (and `emoji_min_density`) is a rewrite paragraph by itself."""
    emoji_min_density: float = Field(default=1.0, ge=0)
    """... and at least this many emoji per 100 characters."""
    repeated_line_min_count: int = Field(default=4, ge=0)
    """A line found this many times in one document is kept once (0 turns the rule off)."""
    repeated_line_max_chars: int = Field(default=200, gt=0)
    """Only lines up to this many characters count as repeated lines."""
    template_min_docs: int = Field(default=20, ge=0)
    """Cross-document template lines: a line in at least this many documents of one source... (0: off)."""
    template_min_share: float = Field(default=0.5, gt=0, le=1)
    """... and in at least this share of that source's documents is removed from all of them."""
    template_max_chars: int = Field(default=100, gt=0)
    """Only lines up to this many characters can be template lines."""
    squeeze_blank_lines: bool = True
    """Collapse runs of blank lines to one and trim blank lines at both ends (recorded as removals)."""

    @field_validator("rules")
    @classmethod
    def _rule_files_load(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        chrome_rules(read_rule_files(rules))  # a config error stops the run before any work
        return rules


class CanonicalConfig(_Section):
    """Which member of a cluster is kept: the most complete form, then the preferred kind of source."""

    length_tolerance: float = Field(default=0.1, ge=0, lt=1)
    """Members whose fingerprint is at most this share shorter than the cluster's longest count as complete;
    among them `prefer_sources` decides, then length, then the smallest doc_id."""
    prefer_sources: tuple[str, ...] = ("*.pdf", "*.md", "*.markdown")
    """Glob patterns (case-insensitive) on the doc_id: an earlier pattern wins over a later one, and any
    pattern over none. The default prefers PDF and Markdown extractions over previews and reposts."""
    prefer_central: bool = True
    """Among complete forms of the same source rank, prefer the member with the most verified matches in
    the cluster (the original, rather than an edited or wrapped copy of it); then the longest."""


class DedupConfig(_Section):
    shingle_size: int = Field(default=5, ge=2, le=16)
    """Character n-gram size, counted after folding and removing whitespace and punctuation."""
    num_perm: int = Field(default=128, ge=16, le=1024)
    """MinHash permutations."""
    seed: int = 1
    """Seed of the MinHash permutations; fixed so that runs are reproducible."""
    candidate_threshold: float = Field(default=0.3, gt=0, lt=1)
    """Containment at which the LSH Ensemble index proposes a pair; the pairs `candidate_p_value` leaves are the
    candidates, and every candidate is verified."""
    candidate_p_value: float = Field(default=1e-4, ge=0, lt=1)
    """A proposed pair is dropped before verification when its signatures agree in so few values that a
    containment of `candidate_threshold` would show as few with a probability under this (0: keep all)."""
    containment_threshold: float = Field(default=0.6, gt=0, le=1)
    """A verified pair is a duplicate when this share of one document's (non-boilerplate) characters lie
    in 5-grams it shares with the other: a copy, a truncated preview, an excerpt, a copy with edits."""
    short_chars: int = Field(default=200, ge=0)
    """A pair whose shorter document has fewer fingerprint characters than this (a headline, a report title)
    must meet `short_containment_threshold` instead: in a short text a series template ("燃气Ⅱ行业跟踪周报：…
    关注…") covers 60% of two different issues."""
    short_containment_threshold: float = Field(default=0.9, gt=0, le=1)
    """Containment a pair with a short document needs (see `short_chars`)."""
    title_chars: int = Field(default=120, ge=0, le=MAX_TITLE_CHARS)
    """Two documents both under this many fingerprint characters are compared as titles or headlines (those of
    ../shared/corpus have at most 93): a republished title differs from its source at its ends only (a site
    suffix, a source tag, a cut), the next issue of a title series inside ("…周报：欧洲亚洲气价下跌…" and
    "…欧洲亚洲美国气价下跌…"). So they are different items when they differ inside by more than
    `title_max_inner_edits` characters, or at all where a figure after the same words differs ("2026年6月",
    "2026年7月"). Longer short texts (a templated note of three paragraphs) are not held to this."""
    title_max_inner_edits: int = Field(default=1, ge=0)
    """Characters two titles may differ by inside (a typo, "+" written "与"), when no figure differs."""
    contained_length_ratio: float = Field(default=0.8, gt=0, le=1)
    """A duplicate is `contained` when it has less than this share of the other's characters (a preview,
    an excerpt), else `near_duplicate`."""
    boilerplate_share: float = Field(default=0.001, gt=0, le=1)
    """A shingle found in at least this share of the batch's documents (and in `boilerplate_min_docs`) is
    boilerplate (disclaimers, rating definitions, site templates) and does not count towards similarity."""
    boilerplate_min_docs: int = Field(default=10, ge=2)
    """...but never one found in fewer documents than this, so that small batches keep their shingles."""
    legal_headings: tuple[str, ...] = ("免责声明", "重要声明", "法律声明", "分析师声明", "分析师承诺", "一般声明",
                                       "评级说明", "投资评级说明", "信息披露声明")
    """A line starting with one of these opens a report's legal pages: from there to the end, shingles do not
    count towards similarity, however few documents of the batch share them. Empty turns this off."""
    max_number_difference: float = Field(default=0.3, ge=0, le=1)
    """Finance guard: a pair is kept apart when more than this share of the figures that follow the same
    words in both documents differ (templated reports for two dates or two funds)."""
    min_numbers: int = Field(default=3, ge=1)
    """The finance guard applies when at least this many figures follow the same words in both documents."""
    min_chars: int = Field(default=50, ge=0)
    """Documents with fewer fingerprint characters than this take part in exact dedup only; documents with
    fewer informative (non-boilerplate) shingles are compared on all of their shingles, with each other only."""
    canonical: CanonicalConfig = CanonicalConfig()


class IndexConfig(_Section):
    """Where a store keeps its dedup index (`fincorpus.store.shared_index`); any choice gives the same result."""

    backend: Literal["parquet", "redis"] = "parquet"
    """`parquet`: band tables beside each generation (the store's directory, shared storage for a cluster).
    `redis`: datasketch's MinHashLSH on the Redis server at `redis_url`, filled from the store as needed."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """`redis` only: the server, as `redis://[:password@]host:port/db`."""
    redis_prefix: str | None = None
    """`redis` only: prefix of the index's keys; null derives one from the store's absolute path."""


class StoreConfig(_Section):
    """How `fincorpus update` finds stored documents that a new batch may duplicate (see `fincorpus.store`)."""

    index_threshold: float = Field(default=0.2, gt=0, lt=1)
    """Jaccard threshold of the banded signature index over the stored documents; low, so that a preview
    holding a quarter of a stored report (or a report whose preview is stored) is still proposed."""
    index: IndexConfig = IndexConfig()
    """Where the index lives; not part of the store's settings: switching it on an existing store is safe."""


class EngineConfig(_Section):
    """Where `fincorpus build` and `update` run their stages (see the README's "Scaling out with Dask")."""

    kind: Literal["local", "dask"] = "local"
    """`local`: one process. `dask`: Prefect's DaskTaskRunner, reading, cleaning and dedup per partition of
    the input files on the cluster's workers."""
    address: str | None = None
    """Scheduler of an existing Dask cluster (`tcp://host:8786`); null starts a LocalCluster for the run."""
    workers: int = Field(default=2, ge=1)
    """LocalCluster only: worker processes."""
    threads_per_worker: int = Field(default=1, ge=1)
    """LocalCluster only: threads per worker (the stages are Python code: more processes, not threads)."""
    processes: bool = True
    """LocalCluster only: workers in their own processes (false: threads of this process, for tests)."""
    partition_files: int = Field(default=64, ge=1)
    """Input files per partition: the unit of work of a worker (a JSONL or Parquet file is never split)."""
    dedup_tasks: int = Field(default=4, ge=1)
    """`dask` only: tasks LSH banding is cut into, by the hash of a band's values (each bucket in one task)."""
    local_workers: int | None = Field(default=None, ge=1)
    """`local` only: worker processes for cleaning and finishing batches; null: one per CPU core, 1: none
    (outputs are byte-identical with any number, a test holds 1 and 2 the same)."""
    batch_docs: int = Field(default=256, ge=1)
    """`local` only: documents per task sent to a worker; a batch smaller than two tasks is cleaned in this process."""
    stream_docs: int = Field(default=1000, ge=1)
    """`local` only: documents read, cleaned and written per batch. A build holds about three batches of text
    in memory at once, never the whole corpus; the outputs are byte-identical with any value."""


class Config(_Section):
    input: InputConfig = InputConfig()
    cleaning: CleaningConfig = CleaningConfig()
    dedup: DedupConfig = DedupConfig()
    store: StoreConfig = StoreConfig()
    engine: EngineConfig = EngineConfig()


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{where}': fix the spelling or remove it (README lists every key)"
    return f"bad value for '{where}': {error['msg']}"


def load_config(path: str | Path | None) -> Config:
    """Load `path` over the defaults; `None` gives the defaults. Raises `UserError` with one line."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path} (pass an existing file to --config)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not valid YAML ({first_line}); fix the file or pass another --config") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of config sections at the top level")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{path}: {_describe(exc.errors()[0])}") from None
