"""Find input files and turn them into `RawDocument`s. One bad file or record never stops the run.

doc_id: for a plain file its path relative to the INPUT directory it was found under (the file name when
INPUT is a file); for a JSONL line or a Parquet row its `id` when present, else `<file>:<line>` (JSONL,
1-based like an editor) or `<file>:<row>` (Parquet, 0-based like polars).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xxhash

from fincorpus.config import InputConfig
from fincorpus.documents import METADATA_COLUMNS, RawDocument, Reason, Status
from fincorpus.errors import UserError
from fincorpus.io.decode import decode_bytes
from fincorpus.io.html import html_to_text

PLAIN_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
RECORD_SUFFIXES = frozenset({".jsonl", ".parquet"})
SUPPORTED_SUFFIXES = PLAIN_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    name: str
    """Path relative to the INPUT it was found under, with forward slashes: the doc_id of a plain file."""


def input_hash(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def discover(inputs: Iterable[str | Path], config: InputConfig) -> list[InputFile]:
    """Every file under `inputs` (files or directories, recursive), in a stable order.

    Hidden files and directories (name starting with '.') are skipped; a symbolic link is followed only
    when `follow_symlinks` is on and it stays inside the input tree.
    """
    found: list[InputFile] = []
    for given in inputs:
        root = Path(given)
        if not root.exists():
            raise UserError(f"input not found: {given} (pass existing files or directories)")
        if root.is_file():
            found.append(InputFile(root, root.name))
            continue
        found.extend(_walk(root, config.follow_symlinks))
    return found


def _walk(root: Path, follow_symlinks: bool) -> Iterator[InputFile]:
    real_root = root.resolve()
    for directory, subdirs, files in os.walk(root, followlinks=follow_symlinks):
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        here = Path(directory)
        if follow_symlinks and not here.resolve().is_relative_to(real_root):
            subdirs[:] = []
            continue
        for name in sorted(files):
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink() and not (follow_symlinks and path.resolve().is_relative_to(real_root)):
                continue
            yield InputFile(path, path.relative_to(root).as_posix())


def read_all(files: Iterable[InputFile], config: InputConfig) -> Iterator[RawDocument]:
    for file in files:
        yield from read_file(file, config)


def read_file(file: InputFile, config: InputConfig) -> Iterator[RawDocument]:
    suffix = file.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"unsupported file type '{suffix or file.path.name}'")
        return
    try:
        size = file.path.stat().st_size
        if suffix not in RECORD_SUFFIXES and size > config.max_doc_bytes:
            yield _unreadable(file, Reason.TOO_LARGE, f"{size} bytes > input.max_doc_bytes {config.max_doc_bytes}")
            return
        if suffix == ".parquet":
            yield from _read_parquet(file, config)
            return
        data = file.path.read_bytes()
    except OSError as exc:
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"cannot read: {exc.strerror or exc}")
        return
    if suffix == ".jsonl":
        yield from _read_jsonl(file, data, config)
    else:
        yield _plain_document(file, data, html=suffix in HTML_SUFFIXES)


def _unreadable(file: InputFile, reason: Reason, detail: str, doc_id: str | None = None, digest: str = "") -> RawDocument:
    return RawDocument(doc_id or file.name, file.name, digest, None,
                       status=Status.QUARANTINED, reason=reason, detail=detail)


def _finish(doc: RawDocument) -> RawDocument:
    """Mark a decoded document that holds nothing but whitespace as dropped."""
    if doc.status is None and (doc.text is None or not doc.text.strip()):
        doc.status, doc.reason, doc.detail = Status.DROPPED, Reason.EMPTY_INPUT, "no text in the input"
    return doc


def _plain_document(file: InputFile, data: bytes, html: bool) -> RawDocument:
    digest = input_hash(data)
    decoded = decode_bytes(data)
    if decoded.text is None:
        return _unreadable(file, decoded.reason, decoded.detail, digest=digest)
    text = html_to_text(decoded.text) if html else decoded.text
    return _finish(RawDocument(file.name, file.name, digest, text, decoded.encoding))


def _metadata(record: dict) -> dict[str, str | None]:
    return {key: (None if record.get(key) is None else str(record[key])) for key in METADATA_COLUMNS}


def _record_document(file: InputFile, fallback_id: str, record: object, digest: str, config: InputConfig) -> RawDocument:
    if not isinstance(record, dict):
        return _unreadable(file, Reason.MALFORMED_RECORD, "record is not an object", fallback_id, digest)
    raw_id = record.get("id")
    doc_id = fallback_id if raw_id is None or raw_id == "" else str(raw_id)
    text = record.get("text")
    if text is None:
        return _unreadable(file, Reason.MALFORMED_RECORD, "record has no 'text'", doc_id, digest)
    if not isinstance(text, str):
        return _unreadable(file, Reason.MALFORMED_RECORD, f"'text' is {type(text).__name__}, not a string", doc_id, digest)
    if len(text.encode("utf-8", "surrogatepass")) > config.max_doc_bytes:
        return _unreadable(file, Reason.TOO_LARGE, f"text larger than input.max_doc_bytes {config.max_doc_bytes}", doc_id, digest)
    return _finish(RawDocument(doc_id, file.name, digest, text, "utf-8", _metadata(record)))


def _read_jsonl(file: InputFile, data: bytes, config: InputConfig) -> Iterator[RawDocument]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        fallback_id = f"{file.name}:{number}"
        digest = input_hash(line)
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield _unreadable(file, Reason.MALFORMED_RECORD, f"line {number}: invalid JSON ({exc})", fallback_id, digest)
            continue
        yield _record_document(file, fallback_id, record, digest, config)


def _read_parquet(file: InputFile, config: InputConfig) -> Iterator[RawDocument]:
    try:
        frame = pl.read_parquet(file.path)
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt file quarantines that file
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"not a readable Parquet file ({type(exc).__name__})")
        return
    if "text" not in frame.columns:
        yield _unreadable(file, Reason.UNREADABLE_FILE, "Parquet file has no 'text' column")
        return
    wanted = [column for column in ("id", "text", *METADATA_COLUMNS) if column in frame.columns]
    for row, record in enumerate(frame.select(wanted).iter_rows(named=True)):
        digest = input_hash(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
        yield _record_document(file, f"{file.name}:{row}", record, digest, config)
