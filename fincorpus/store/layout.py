"""The store's files on disk: a versioned layout, append-only generations, one atomic switch per update.

```
STORE/
  store.json               {"format": 1, "dedup": {...}, "store": {...}}: the layout version and the settings
                           the stored signatures depend on (an update with other settings is refused)
  state/                   small tables, replaced as one step by each update (`staged_directory`)
    generation.json        {"generation": N}: the last complete generation; later ones are ignored
    lineage.parquet        every document the store has accepted: the build's lineage columns + generation
    rejected.parquet       inputs refused because their doc_id is stored with other bytes
    manifest.json
  generations/000001/      one directory per update, written once and never changed
    documents.parquet      doc_id, text (cleaned), text_as_read, source, url, title, date of what it added
    signatures.parquet     doc_id, exact_hash, fingerprint_chars, shingles, signature (MinHash, uint32[num_perm])
    removed_spans.parquet  what cleaning removed from them
    batch.parquet          the batch's lineage: its inputs and the stored documents it changed
    report.md, manifest.json
  .update.lock             held by the running update
```

An update writes its generation directory (staged beside it, renamed into place), then switches `state/`.
A run killed before the switch leaves `state/` at the previous generation; the next run deletes the
generation directories `state/` does not reach and does the batch again.
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

from fincorpus.config import Config
from fincorpus.errors import UserError
from fincorpus.io.writers import (
    exclusive, recover, staged_directory, staging_directory, switch_in, write_manifest, write_parquet_atomic,
    write_text_atomic,
)
from fincorpus.lineage import LINEAGE_SCHEMA

FORMAT = 1
"""Version of the layout above. A store written by a later format is refused, never half-read."""

STORE_LINEAGE_SCHEMA = LINEAGE_SCHEMA | {"generation": pl.Int64}
REJECTED_SCHEMA = {"doc_id": pl.String, "input_hash": pl.String, "source": pl.String, "generation": pl.Int64,
                   "reason": pl.String, "detail": pl.String}
STORED_DOCUMENTS_SCHEMA = {"doc_id": pl.String, "text": pl.String, "text_as_read": pl.String, "source": pl.String,
                           "url": pl.String, "title": pl.String, "date": pl.String}
"""A generation's documents: `text` is the cleaned text (null when cleaning did not run), `text_as_read` the
decoded input that `removed_spans` offsets point into."""


def signatures_schema(num_perm: int) -> dict:
    return {"doc_id": pl.String, "exact_hash": pl.UInt64, "fingerprint_chars": pl.Int64, "shingles": pl.Int64,
            "signature": pl.Array(pl.UInt32, num_perm)}


@dataclass(frozen=True, slots=True)
class StoreState:
    generation: int
    lineage: pl.DataFrame
    """STORE_LINEAGE_SCHEMA, sorted by doc_id."""
    rejected: pl.DataFrame


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

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the store; a second run is refused at once with one line."""
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive(self.root / "update", busy=f"another fincorpus update is running on the store {self.root}: "
                                                   "wait for it to finish (the scheduled flow runs one at a time)"):
            yield

    def open(self, config: Config, create: bool) -> None:
        """Check (or, with `create`, start) the store: layout format and the settings signatures depend on."""
        wanted = {"format": FORMAT, "dedup": config.dedup.model_dump(mode="json"),
                  "store": config.store.model_dump(mode="json", exclude={"index"})}
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
        for section in ("dedup", "store"):
            if stored.get(section) != wanted[section]:
                key = next((key for key in wanted[section] if stored.get(section, {}).get(key) != wanted[section][key]),
                           section)
                raise UserError(f"the store {self.root} was built with other {section} settings ({section}.{key}="
                                f"{stored.get(section, {}).get(key)!r}): use the same --config, or build a new store")

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
            return StoreState(0, pl.DataFrame(schema=STORE_LINEAGE_SCHEMA), pl.DataFrame(schema=REJECTED_SCHEMA))
        return StoreState(generation, pl.read_parquet(self.state / "lineage.parquet"),
                          pl.read_parquet(self.state / "rejected.parquet"))

    def write_generation(self, number: int, tables: dict[str, pl.DataFrame], reports: dict[str, str]) -> Path:
        """Write generation `number` complete (tables, reports, manifest) and move it into place."""
        self.generations.mkdir(parents=True, exist_ok=True)
        target = self.generation_dir(number)
        staging = staging_directory(self.generations, f".{target.name}.staging-")
        try:
            for name, frame in tables.items():
                write_parquet_atomic(frame, staging / f"{name}.parquet")
            for name, text in reports.items():
                write_text_atomic(text, staging / name)
            write_manifest(staging)
            switch_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def commit(self, generation: int, lineage: pl.DataFrame, rejected: pl.DataFrame) -> None:
        """The one step that makes `generation` the store's: `state/` switched in whole."""
        with staged_directory(self.state) as staging:
            write_parquet_atomic(lineage, staging / "lineage.parquet")
            write_parquet_atomic(rejected, staging / "rejected.parquet")
            write_text_atomic(json.dumps({"generation": generation}) + "\n", staging / "generation.json")
            write_manifest(staging)
