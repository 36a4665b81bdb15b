"""Bytes to text: UTF-8 fast path, BOMs, then charset-normalizer; binary junk is refused, not guessed."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

from fincorpus.documents import Reason

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, newline, carriage return, form feed: a text with many of them is not text.
_CONTROL = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r\f") | {"\x7f"}
MAX_CONTROL_RATIO = 0.01


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str | None
    encoding: str | None
    reason: Reason | None = None
    detail: str = ""


def _control_ratio(text: str) -> float:
    sample = text[:65536]
    if not sample:
        return 0.0
    return sum(1 for char in sample if char in _CONTROL) / len(sample)


def _checked(text: str, encoding: str) -> Decoded:
    ratio = _control_ratio(text)
    if ratio > MAX_CONTROL_RATIO:
        return Decoded(None, encoding, Reason.BINARY, f"{ratio:.1%} control characters after decoding as {encoding}")
    return Decoded(text, encoding)


def decode_bytes(data: bytes, min_confidence: float = 0.8) -> Decoded:
    """Decode `data`, or say why it is not text.

    A byte order mark decides; then UTF-8; then charset-normalizer's best guess, taken only when its
    confidence (1 minus its mess ratio) reaches `min_confidence`. A guess says so in `detail`.

    >>> decode_bytes("研报".encode("gb18030")).text
    '研报'
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                return Decoded(None, encoding, Reason.UNDECODABLE, f"{encoding} BOM but {exc.reason} at byte {exc.start}")
    if b"\x00" in data[:65536]:
        return Decoded(None, None, Reason.BINARY, "NUL bytes in a file without a UTF-16/32 byte order mark")
    try:
        return _checked(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    max_chaos = 1.0 - min_confidence
    best = from_bytes(data, threshold=max_chaos).best()
    if best is None or best.chaos > max_chaos:
        return Decoded(None, None, Reason.UNDECODABLE,
                       f"not UTF-8 and no encoding guessed with confidence >= {min_confidence:.0%}")
    decoded = _checked(str(best), best.encoding)
    if decoded.text is None:
        return decoded
    return Decoded(decoded.text, best.encoding, None, f"encoding {best.encoding} guessed with confidence {1 - best.chaos:.0%}")
