"""Find input files and turn them into `RawDocument`s. One bad file or record never stops the run.

doc_id: for a plain file its path relative to the INPUT directory it was found under (the file name when
INPUT is a file); for a JSONL line or a Parquet row its `id` when present, else `<file>:<line>` (JSONL,
1-based like an editor) or `<file>:<row>` (Parquet, 0-based like polars). A record whose `id` was already
used is quarantined (`duplicate_id`) under `<file>:<line>`.

Every file found yields at least one document, so every input file appears in lineage: a JSONL or Parquet
file without records yields one `dropped` row under the file's own name, and a Parquet row group that
cannot be read yields one `quarantined` row `<file>:<first>-<last>` for its unread rows (the other row groups
are read). Record files are streamed (JSONL line by line with a bounded line length, Parquet one row group
and record batch at a time), so neither is read whole.

Only the bytes of the files found are read: paths or URLs inside records are data, never opened.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
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
PARQUET_BATCH_ROWS = 1024
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    name: str
    """Path relative to the INPUT it was found under, with forward slashes: the doc_id of a plain file."""
    problem: tuple[Reason, str] | None = None
    """Why this entry is listed but not read (a symbolic link not followed, a directory that cannot be listed)."""


def input_hash(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def _display(path: Path) -> str:
    """A path as text that any table can hold: undecodable bytes of a file name become `\\xNN`."""
    return path.as_posix().encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def discover(inputs: Iterable[str | Path], config: InputConfig) -> list[InputFile]:
    """Every file under `inputs` (files or directories, recursive), in a stable order.

    Hidden files and directories (name starting with '.') are skipped. A symbolic link inside a directory
    is followed only when `follow_symlinks` is on, it stays inside the input tree, and (for a directory) it
    does not lead back to a directory already walked; otherwise it is listed with the reason.
    """
    found: list[InputFile] = []
    for given in inputs:
        root = Path(given)
        if not root.exists():
            raise UserError(f"input not found: {given} (pass existing files or directories)")
        if root.is_dir():
            real_root = root.resolve()
            found.extend(_walk(root, root, real_root, config.follow_symlinks, {real_root}))
        else:
            found.append(InputFile(root, _display(Path(root.name))))
    return found


def check_output_outside(inputs: Iterable[str | Path], out: str | Path, option: str = "--out") -> None:
    """Refuse an output directory (given as `option`: `--out`, or `--store` for a store) inside an input
    directory (unless hidden there, so never walked) or an input inside the output directory: the next run
    would read the outputs as input."""
    real_out = Path(out).resolve()
    for given in inputs:
        real_input = Path(given).resolve()
        inside = real_input.is_dir() and real_out.is_relative_to(real_input) and not any(
            part.startswith(".") for part in real_out.relative_to(real_input).parts)
        if inside or real_input.is_relative_to(real_out):
            raise UserError(f"{option} {out} overlaps INPUT {given}: the next run would read the outputs as input; "
                            f"pass an {option} outside the inputs")


def _walk(directory: Path, root: Path, real_root: Path, follow: bool, walked: set[Path]) -> Iterator[InputFile]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        yield InputFile(directory, _display(directory.relative_to(root)),
                        (Reason.UNREADABLE_FILE, f"cannot list directory: {exc.strerror or exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        name = _display(path.relative_to(root))
        if entry.is_symlink():
            problem = _link_problem(path, real_root, follow, walked)
            if problem is not None:
                yield InputFile(path, name, (Reason.SYMLINK_SKIPPED, problem))
            elif path.is_dir():
                walked.add(path.resolve())
                yield from _walk(path, root, real_root, follow, walked)
            else:
                yield InputFile(path, name)
        elif entry.is_dir(follow_symlinks=False):
            walked.add(path.resolve())
            yield from _walk(path, root, real_root, follow, walked)
        else:
            yield InputFile(path, name)


def _link_problem(path: Path, real_root: Path, follow: bool, walked: set[Path]) -> str | None:
    if not follow:
        return "symbolic link not followed (input.follow_symlinks is off)"
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "symbolic link is broken or loops"
    if not target.is_relative_to(real_root):
        return "symbolic link leads out of the input tree"
    if target.is_dir() and target in walked:  # an ancestor (a loop) or a directory read already
        return "symbolic link leads back to a directory already read"
    return None


def read_all(files: Iterable[InputFile], config: InputConfig) -> Iterator[RawDocument]:
    """Every document of `files`, each doc_id once (see the module doc for what happens to a repeated id)."""
    seen: set[str] = set()
    for file in files:
        for doc in read_file(file, config):
            used = _id_to_use(doc.doc_id, doc.locator, seen)
            if used != doc.doc_id:
                doc = quarantine_repeated(doc)
            seen.add(used)
            yield doc


def repeated_rows(keys: Iterable[tuple[str, str]]) -> set[int]:
    """Positions of the documents, given as (doc_id, locator) in reading order, that `read_all` quarantines
    as `duplicate_id`: how a batch read in parts finds them (`quarantine_repeated` then marks each)."""
    seen: set[str] = set()
    repeated: set[int] = set()
    for position, (doc_id, locator) in enumerate(keys):
        used = _id_to_use(doc_id, locator, seen)
        if used != doc_id:
            repeated.add(position)
        seen.add(used)
    return repeated


def _id_to_use(doc_id: str, locator: str, seen: set[str]) -> str:
    if doc_id not in seen:
        return doc_id
    if locator == doc_id or locator in seen:
        raise UserError(f"duplicate doc_id '{doc_id}': give each record a unique 'id', or pass inputs whose "
                        "relative paths differ")
    return locator


def quarantine_repeated(doc: RawDocument) -> RawDocument:
    return RawDocument(doc.locator, doc.source, doc.input_hash, None, locator=doc.locator,
                       status=Status.QUARANTINED, reason=Reason.DUPLICATE_ID,
                       detail=f"id '{doc.doc_id}' is already used by an earlier document")


def read_file(file: InputFile, config: InputConfig) -> Iterator[RawDocument]:
    if file.problem is not None:
        yield _unreadable(file, *file.problem)
        return
    suffix = file.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"unsupported file type '{suffix or file.path.name}'")
        return
    try:
        mode = file.path.stat().st_mode
        if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
            yield _unreadable(file, Reason.UNREADABLE_FILE, "not a regular file")
            return
        if suffix == ".parquet":
            yield from _whole_file_accounted(file, _read_parquet(file, config))
        elif suffix == ".jsonl":
            yield from _whole_file_accounted(file, _read_jsonl(file, config))
        else:
            yield _read_plain(file, config, html=suffix in HTML_SUFFIXES)
    except OSError as exc:
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"cannot read: {exc.strerror or exc}")


def _whole_file_accounted(file: InputFile, documents: Iterator[RawDocument]) -> Iterator[RawDocument]:
    """Pass the documents of a record file on, or one `dropped` row when it holds no records at all."""
    empty = True
    for doc in documents:
        empty = False
        yield doc
    if empty:
        yield RawDocument(file.name, file.name, "", None, status=Status.DROPPED, reason=Reason.EMPTY_INPUT,
                          detail="no records in the file")


def _unreadable(file: InputFile, reason: Reason, detail: str, doc_id: str | None = None, digest: str = "",
                locator: str | None = None) -> RawDocument:
    return RawDocument(doc_id or file.name, file.name, digest, None, locator=locator or doc_id or file.name,
                       status=Status.QUARANTINED, reason=reason, detail=detail)


def _finish(doc: RawDocument) -> RawDocument:
    """Mark a decoded document that holds nothing but whitespace as dropped."""
    if doc.status is None and (doc.text is None or not doc.text.strip()):
        doc.status, doc.reason, doc.detail = Status.DROPPED, Reason.EMPTY_INPUT, "no text in the input"
    return doc


def _streamed_hash(path: Path) -> str:
    digest = xxhash.xxh3_64()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_plain(file: InputFile, config: InputConfig, html: bool) -> RawDocument:
    size = file.path.stat().st_size
    if size > config.max_doc_bytes:  # hashed in chunks, never held in memory
        return _unreadable(file, Reason.TOO_LARGE, f"{size} bytes > input.max_doc_bytes {config.max_doc_bytes}",
                           digest=_streamed_hash(file.path))
    data = file.path.read_bytes()
    digest = input_hash(data)
    decoded = decode_bytes(data, config.min_encoding_confidence)
    del data
    if decoded.text is None:
        return _unreadable(file, decoded.reason, decoded.detail, digest=digest)
    text = html_to_text(decoded.text) if html else decoded.text
    return _finish(RawDocument(file.name, file.name, digest, text, decoded.encoding, locator=file.name,
                               detail=decoded.detail))


def _unencodable(value: str) -> bool:
    """A lone surrogate (JSON allows `"\\ud800"`) cannot be written to any UTF-8 table."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _metadata(record: dict) -> dict[str, str | None]:
    return {key: (None if record.get(key) is None else str(record[key])) for key in METADATA_COLUMNS}


def _record_document(file: InputFile, where: str, locator: str, record: object, digest: str,
                     config: InputConfig, valid_unicode: bool = False) -> RawDocument:
    """One JSONL/Parquet record. `where` is 'line 4' or 'row 3', `locator` is '<file>:<line or row>'.
    `valid_unicode`: the record is known to hold no lone surrogate, which need not be looked for then."""
    if not isinstance(record, dict):
        return _unreadable(file, Reason.MALFORMED_RECORD, f"{where}: record is not an object", locator, digest)
    raw_id = record.get("id")
    doc_id = locator if raw_id is None or raw_id == "" else str(raw_id)
    if not valid_unicode and _unencodable(doc_id):
        return _unreadable(file, Reason.MALFORMED_RECORD, f"{where}: 'id' holds a lone surrogate", locator, digest)
    text = record.get("text")

    def refuse(reason: Reason, why: str) -> RawDocument:
        return _unreadable(file, reason, f"{where}: {why}", doc_id, digest, locator)
    if text is None:
        return refuse(Reason.MALFORMED_RECORD, "record has no 'text'")
    if not isinstance(text, str):
        return refuse(Reason.MALFORMED_RECORD, f"'text' is {type(text).__name__}, not a string")
    # UTF-8 takes 4 bytes a character at most: most texts need not be encoded to know they fit.
    if len(text) > config.max_doc_bytes or (len(text) * 4 > config.max_doc_bytes
                                            and len(text.encode("utf-8", "surrogatepass")) > config.max_doc_bytes):
        return refuse(Reason.TOO_LARGE, f"text larger than input.max_doc_bytes {config.max_doc_bytes}")
    metadata = _metadata(record)
    if not valid_unicode and (_unencodable(text) or any(value is not None and _unencodable(value)
                                                         for value in metadata.values())):
        return refuse(Reason.MALFORMED_RECORD, "text or metadata holds a lone surrogate (invalid Unicode)")
    return _finish(RawDocument(doc_id, file.name, digest, text, "utf-8", metadata, locator=locator))


def _lines(path: Path, limit: int) -> Iterator[tuple[int, bytes | None, str, int]]:
    """(number, line, xxh3 of the line, size) per line; `line` is None for a line longer than `limit`,
    which is read past in chunks, never held whole."""
    with open(path, "rb") as stream:
        number = 0
        while line := stream.readline(limit + 1):
            number += 1
            if len(line) <= limit or line.endswith(b"\n"):
                yield number, line, input_hash(line), len(line)
                continue
            digest, size = xxhash.xxh3_64(line), len(line)
            while chunk := stream.readline(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if chunk.endswith(b"\n"):
                    break
            yield number, None, digest.hexdigest(), size


def _read_jsonl(file: InputFile, config: InputConfig) -> Iterator[RawDocument]:
    for number, line, digest, size in _lines(file.path, config.max_doc_bytes):
        locator = f"{file.name}:{number}"
        if line is None:
            yield _unreadable(file, Reason.TOO_LARGE, f"line {number}: {size} bytes > input.max_doc_bytes "
                              f"{config.max_doc_bytes}", locator, digest)
            continue
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, or nesting too deep
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            yield _unreadable(file, Reason.MALFORMED_RECORD, f"line {number}: invalid JSON ({message[:200]})",
                              locator, digest)
            continue
        yield _record_document(file, f"line {number}", locator, record, digest, config)


def _read_parquet(file: InputFile, config: InputConfig) -> Iterator[RawDocument]:
    try:
        parquet = pq.ParquetFile(file.path)
        columns = parquet.schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt file quarantines that file
        yield _unreadable(file, Reason.UNREADABLE_FILE, f"not a readable Parquet file ({type(exc).__name__})")
        return
    if "text" not in columns:
        yield _unreadable(file, Reason.UNREADABLE_FILE, "Parquet file has no 'text' column")
        return
    wanted = [column for column in ("id", "text", *METADATA_COLUMNS) if column in columns]
    first_row = 0
    for group in range(parquet.num_row_groups):
        end = first_row + parquet.metadata.row_group(group).num_rows
        yield from _read_row_group(file, parquet, group, wanted, first_row, end, config)
        first_row = end


def _record_hash(record: dict) -> tuple[str, bool]:
    """The input hash of a Parquet record (xxh3 of its JSON, keys sorted), and whether it holds no lone
    surrogate anywhere: its JSON, which quotes every string of the record as it is, then encodes strictly."""
    dumped = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
    try:
        return input_hash(dumped.encode("utf-8")), True
    except UnicodeEncodeError:
        return input_hash(dumped.encode("utf-8", "surrogatepass")), False


def _read_row_group(file: InputFile, parquet: pq.ParquetFile, group: int, wanted: list[str], row: int, end: int,
                    config: InputConfig) -> Iterator[RawDocument]:
    """The rows of one row group (memory: one record batch); rows that cannot be read are one quarantined row."""
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group], columns=wanted):
            for record in batch.to_pylist():
                digest, valid_unicode = _record_hash(record)
                yield _record_document(file, f"row {row}", f"{file.name}:{row}", record, digest, config, valid_unicode)
                row += 1
    except Exception as exc:  # noqa: BLE001 - a page that cannot be read quarantines the rest of its row group
        locator = f"{file.name}:{row}-{end - 1}"
        yield _unreadable(file, Reason.UNREADABLE_FILE,
                          f"rows {row}-{end - 1} unreadable ({type(exc).__name__}: {str(exc).strip()[:120]})", locator)
