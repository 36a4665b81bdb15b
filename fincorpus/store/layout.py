"""The store's files on disk: a versioned layout, append-only generations, one atomic switch per update.

```
STORE/
  store.json               {"format": 2, "cleaning": {...}, "dedup": {...}, "store": {...}, "rules": {...}}: the
                           layout version and the settings stored texts, counts and signatures depend on, and
                           an xxh3-64 digest of each chrome rule set's content (an update with other settings or
                           an edited rule set is refused)
  state/                   small tables, replaced as one step by each update (`staged_directory`)
    generation.json        {"generation": N}: the last complete generation; later ones are ignored
    lineage.parquet        every document the store has accepted: the build's lineage columns, `generation`
                           (the update that added it) and `cleaned_in` (the generation holding its current
                           cleaning: its own, or a later one that cleaned it again, see below)
    rejected.parquet       inputs refused because their doc_id is stored with other bytes
    sites.parquet          site, docs: documents counted per site for template lines (`cleaners.templates`)
    templates.parquet      site, line: each site's template lines over every document stored
    manifest.json
  generations/000001/      one directory per update, written once and never changed
    documents.parquet      doc_id, text (cleaned), text_as_read, source, url, title, date, read_detail of the
                           documents it added or cleaned again
    signatures.parquet     doc_id, exact_hash, fingerprint_chars, shingles, signature (MinHash, uint32[num_perm])
    removed_spans.parquet  what cleaning removed from them
    bands.parquet          doc_id, band, key: the band table of its signatures (`store.index.backend: parquet`,
                           see `fincorpus.store.shared_index`)
    edges.parquet          left_id, right_id and the full scores (`PairScores` columns) of the candidate pairs
                           it verified that passed a test: later updates settle with them instead of verifying
                           stored pairs again (`update.known_pairs`; a store from before has them verified again)
    lines.parquet          doc_id, site, line: the lines of the documents it added that template counting
                           counts (first-pass cleaned, stripped, up to `cleaning.template_max_chars`, once each)
    batch.parquet          the batch's lineage: its inputs and the stored documents it changed
    report.md, report.html, summary.json, manifest.json
  .update.lock             held by the running update
```

`documents.parquet` (sorted by doc_id) and `lines.parquet` (sorted by site, line) are written in row groups
with statistics, so that an update reads the texts of the clusters it touches and the counts of the lines
it needs, not the whole store. A document's current documents/signatures/removed_spans rows are those of
generation `cleaned_in`
(`StoreLayout.current`); an older generation may still hold rows of an earlier cleaning, never read again.

An update writes its generation directory (staged beside it, renamed into place), then switches `state/`.
A run killed before the switch leaves `state/` at the previous generation; the next run deletes the
generation directories `state/` does not reach and does the batch again.

Format history: 1 had no template counts (`sites`, `templates`, `lines`, `cleaned_in`, `read_detail`);
its stores are refused, and are rebuilt by updating a new store from the original inputs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cleaners.chrome import rule_set_digests
from fincorpus.config import Config
from fincorpus.errors import UserError
from fincorpus.io.writers import (
    exclusive, recover, staged_directory, staging_directory, switch_in, write_looked_up_parquet_atomic, write_manifest,
    write_parquet_atomic, write_text_atomic,
)
from fincorpus.lineage import LINEAGE_SCHEMA

FORMAT = 2
"""Version of the layout above. A store written by a later format is refused, never half-read."""

STORE_LINEAGE_SCHEMA = LINEAGE_SCHEMA | {"generation": pl.Int64, "cleaned_in": pl.Int64}
REJECTED_SCHEMA = {"doc_id": pl.String, "input_hash": pl.String, "source": pl.String, "generation": pl.Int64,
                   "reason": pl.String, "detail": pl.String}
STORED_DOCUMENTS_SCHEMA = {"doc_id": pl.String, "text": pl.String, "text_as_read": pl.String, "source": pl.String,
                           "url": pl.String, "title": pl.String, "date": pl.String, "read_detail": pl.String}
"""A generation's documents: `text` is the cleaned text (null when cleaning did not run), `text_as_read` the
decoded input that `removed_spans` offsets point into, `read_detail` the reader's note (how it was decoded)."""
SITES_SCHEMA = {"site": pl.String, "docs": pl.Int64}
TEMPLATES_SCHEMA = {"site": pl.String, "line": pl.String}
LINES_SCHEMA = {"doc_id": pl.String, "site": pl.String, "line": pl.String}


_ROW_GROUPS = {"documents": 1024, "lines": 65536, "bands": 262144}
"""Tables an update looks rows up in (by doc_id; by line; by band key), written sorted in row groups with
statistics: an update reads the texts of the stored clusters it touches, not every stored text. A batch's
band keys fall in every row group of a band table, which is read whole: in few large row groups (6.4M rows
of 100,000 documents in 1,024-row groups took 0.51 s to scan for 64,000 keys, in 262,144-row ones 0.06 s)."""


def signatures_schema(num_perm: int) -> dict:
    return {"doc_id": pl.String, "exact_hash": pl.UInt64, "fingerprint_chars": pl.Int64, "shingles": pl.Int64,
            "signature": pl.Array(pl.UInt32, num_perm)}


@dataclass(frozen=True, slots=True)
class StoreState:
    generation: int
    lineage: pl.DataFrame
    """STORE_LINEAGE_SCHEMA, sorted by doc_id."""
    rejected: pl.DataFrame
    sites: pl.DataFrame
    """SITES_SCHEMA"""
    templates: pl.DataFrame
    """TEMPLATES_SCHEMA"""


def _settings(config: Config) -> dict[str, dict]:
    """The sections of `config` a store is bound to, as `store.json` holds them. A setting that a later
    version of fincorpus adds is missing from an older store's file: it is taken at its default there (new
    settings default to the earlier behaviour, or to one that leaves stored texts and signatures as they
    are), so upgrading keeps the store usable; a setting a later version drops is not checked."""
    return {"cleaning": config.cleaning.model_dump(mode="json"), "dedup": config.dedup.model_dump(mode="json"),
            "store": config.store.model_dump(mode="json", exclude={"index"})}


class StoreLayout:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.settings_path = self.root / "store.json"
        self.state = self.root / "state"
        self.generations = self.root / "generations"

    def generation_dir(self, number: int) -> Path:
        return self.generations / f"{number:06d}"

    def parts(self, name: str, upto: int) -> list[Path]:
        """`name` in every committed generation directory that has it, oldest first."""
        return [path for number in range(1, upto + 1) if (path := self.generation_dir(number) / name).is_file()]

    def current(self, name: str, lineage: pl.DataFrame, schema: dict) -> pl.LazyFrame:
        """The rows of table `name` (of `schema`) that hold each document's current cleaning: those of
        generation `cleaned_in` in `lineage` (a document cleaned again has older rows in earlier generations)."""
        upto = int(lineage["cleaned_in"].max() or 0)
        parts = [pl.scan_parquet(path).with_columns(pl.lit(int(path.parent.name), pl.Int64).alias("cleaned_in"))
                 for path in self.parts(name, upto)]
        if not parts:
            return pl.LazyFrame(schema=schema)
        versions = lineage.lazy().select("doc_id", "cleaned_in").filter(pl.col("cleaned_in").is_not_null())
        return pl.concat(parts).join(versions, on=["doc_id", "cleaned_in"], how="semi").drop("cleaned_in")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the store; a second run is refused at once with one line."""
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive(self.root / "update", busy=f"another fincorpus update is running on the store {self.root}: "
                                                   "wait for it to finish (the scheduled flow runs one at a time)"):
            yield

    def open(self, config: Config, create: bool) -> None:
        """Check (or, with `create`, start) the store: layout format and the settings signatures depend on."""
        wanted = {"format": FORMAT, **_settings(config), "rules": rule_set_digests(config.cleaning.rules)}
        if not self.settings_path.is_file():
            if self.root.is_dir() and any(not entry.name.startswith(".") for entry in self.root.iterdir()):
                raise UserError(f"--store {self.root} is not a fincorpus store (no store.json) and not empty: "
                                "pass a new or empty directory")
            if not create:
                raise UserError(f"--store {self.root} holds no store yet: run `fincorpus update INPUT --store "
                                f"{self.root}` first")
            self.root.mkdir(parents=True, exist_ok=True)
            write_text_atomic(json.dumps(wanted, indent=2, sort_keys=True) + "\n", self.settings_path)
            return
        try:
            stored = json.loads(self.settings_path.read_text(encoding="utf-8"))
            stored_format = int(stored["format"])
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{self.settings_path} is unreadable: the store is damaged") from None
        if stored_format != FORMAT:
            raise UserError(f"the store {self.root} has layout format {stored_format}, this fincorpus reads format "
                            f"{FORMAT}: use a matching fincorpus version")
        defaults = _settings(Config())
        for section in ("cleaning", "dedup", "store"):
            built = stored.get(section)
            if not isinstance(built, dict):
                raise UserError(f"{self.settings_path} has no {section} settings: the store is damaged")
            for key, value in wanted[section].items():
                if built.get(key, defaults[section].get(key)) != value:
                    raise UserError(f"the store {self.root} was built with other {section} settings ({section}.{key}="
                                    f"{built.get(key)!r}): use the same --config, or build a new store")
        changed = [name for name, digest in stored.get("rules", {}).items() if wanted["rules"].get(name) != digest]
        if changed:  # a store from before rule digests were kept has none: not checked
            raise UserError(f"the chrome rule set {changed[0]!r} (cleaning.rules) has changed since the store "
                            f"{self.root} was cleaned with it: restore that rule file, or build a new store")

    def recover(self) -> int:
        """Under the lock: undo what a killed update left, and return the committed generation."""
        recover(self.state)
        generation = self.committed_generation()
        if self.generations.is_dir():
            for entry in self.generations.iterdir():
                if not entry.name.isdigit() or int(entry.name) > generation:
                    shutil.rmtree(entry, ignore_errors=True)
        return generation

    def committed_generation(self) -> int:
        path = self.state / "generation.json"
        if not path.is_file():
            return 0
        return int(json.loads(path.read_text(encoding="utf-8"))["generation"])

    def read_state(self) -> StoreState:
        generation = self.committed_generation()
        if generation == 0:
            return StoreState(0, pl.DataFrame(schema=STORE_LINEAGE_SCHEMA), pl.DataFrame(schema=REJECTED_SCHEMA),
                              pl.DataFrame(schema=SITES_SCHEMA), pl.DataFrame(schema=TEMPLATES_SCHEMA))
        return StoreState(generation, *(pl.read_parquet(self.state / f"{name}.parquet")
                                        for name in ("lineage", "rejected", "sites", "templates")))

    def write_generation(self, number: int, tables: dict[str, pl.DataFrame], reports: dict[str, str]) -> Path:
        """Write generation `number` complete (tables, reports, manifest) and move it into place."""
        self.generations.mkdir(parents=True, exist_ok=True)
        target = self.generation_dir(number)
        staging = staging_directory(self.generations, f".{target.name}.staging-")
        try:
            for name, frame in tables.items():
                if name in _ROW_GROUPS:
                    write_looked_up_parquet_atomic(frame, staging / f"{name}.parquet", _ROW_GROUPS[name])
                else:
                    write_parquet_atomic(frame, staging / f"{name}.parquet")
            for name, text in reports.items():
                write_text_atomic(text, staging / name)
            write_manifest(staging)
            switch_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def commit(self, state: StoreState) -> None:
        """The one step that makes `state.generation` the store's: `state/` switched in whole."""
        with staged_directory(self.state) as staging:
            for name in ("lineage", "rejected", "sites", "templates"):
                write_parquet_atomic(getattr(state, name), staging / f"{name}.parquet")
            generation = state.generation
            write_text_atomic(json.dumps({"generation": generation}) + "\n", staging / "generation.json")
            write_manifest(staging)
