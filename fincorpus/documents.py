"""Documents, their statuses and the reasons behind them: small enums, not free strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    CANONICAL = "canonical"
    DUPLICATE = "duplicate"
    DROPPED = "dropped"
    QUARANTINED = "quarantined"


class Reason(StrEnum):
    """Why a document is not canonical. Lineage stores the value; `detail` says more in words."""

    # duplicate
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    CONTAINED = "contained"
    # dropped
    EMPTY_INPUT = "empty_input"
    EMPTY_AFTER_CLEANING = "empty_after_cleaning"
    # quarantined
    UNDECODABLE = "undecodable"
    BINARY = "binary"
    MALFORMED_RECORD = "malformed_record"
    UNREADABLE_FILE = "unreadable_file"
    TOO_LARGE = "too_large"
    SYMLINK_SKIPPED = "symlink_skipped"
    DUPLICATE_ID = "duplicate_id"
    CHANGED_CONTENT = "changed_content"
    """`fincorpus update`: the store already holds this doc_id with other input bytes; never merged."""


METADATA_COLUMNS = ("url", "title", "date")
"""Optional metadata carried from JSONL/Parquet records to the outputs."""


@dataclass(slots=True)
class RawDocument:
    """One input document as read: decoded text, or the reason it could not be read."""

    doc_id: str
    source: str
    """Path of the file it came from, relative to the input it was found under."""
    input_hash: str
    """xxh3-64 (hex) of the input bytes of this document (the file, or the JSON line / Parquet cell)."""
    text: str | None
    encoding: str | None = None
    metadata: dict[str, str | None] = field(default_factory=dict)
    status: Status | None = None
    """Set by the reader only when the document cannot go on (dropped or quarantined)."""
    reason: Reason | None = None
    detail: str = ""
    """Why it cannot go on; for a readable document, a note from reading (e.g. how its encoding was found)."""
    locator: str = ""
    """Where it is: `<file>:<line>` or `<file>:<row>` for a record, the file's name for a file."""
