"""Unicode repairs: invisible characters, width folding, OpenCC (mojibake is `cleaners.mojibake`).

All but `InvisibleCharacters` are rewriters: they change characters rather than remove text, and the chain
counts what they changed instead of listing spans.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import opencc

from cleaners.base import CharacterClass, CleanResult, Edit, apply_edits, code_points, rewrite, substitution, utf16_units

_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f]")
_INVISIBLE = CharacterClass("[\u00a0\u00ad\u2000-\u200f\u202a-\u202f\u205f-\u2064\ufeff]")


@dataclass(frozen=True, slots=True)
class InvisibleCharacters:
    """Remove zero-width characters, BOMs, soft hyphens and direction marks; turn NBSP variants into spaces.

    >>> InvisibleCharacters()("研\u200b究\u00a0报\ufeff告").text
    '研究 报告'
    """

    name: str = "invisible_v1"
    rewrites: ClassVar[bool] = True

    def __call__(self, text: str) -> CleanResult:
        if not _INVISIBLE.search(text):
            return CleanResult(text)
        edits = sorted([*(Edit(m.start(), m.end()) for m in _ZERO_WIDTH.finditer(text)),
                        *(Edit(m.start(), m.end(), " ") for m in _ODD_SPACES.finditer(text))],
                       key=lambda edit: edit.start)
        return CleanResult(apply_edits(text, edits), tuple(edits))


def _is_punctuation(folded: str) -> bool:
    return all(unicodedata.category(char)[0] in "PSZ" for char in folded)


@dataclass(frozen=True, slots=True)
class _FoldTables:
    one_to_one: np.ndarray
    """Code point → folded code point, over the BMP (identity where nothing folds)."""
    expanding: np.ndarray
    """Over the BMP: True where a character folds to several ("…" → "...") or out of the BMP."""
    other: dict[int, str]
    """Every fold that `one_to_one` does not hold: expansions and supplementary-plane characters."""
    utf16: np.ndarray
    """Over UTF-16 code units: `one_to_one`, with `_GENERAL` for a character that folds to several and for the
    surrogates of a supplementary one. One lookup folds most texts and says whether that was all."""


_GENERAL = 0xFFFF  # U+FFFF folds to itself, so a text holding it takes the general path, which is exact too


_FOLDED_TAGS = frozenset({"<wide>", "<narrow>", "<font>", "<small>", "<vertical>"})


def _folds(char: str, folded: str) -> bool:
    """Which compatibility forms fold: width variants (全角 ＡＩ２０２３，the 　 space; half-width ｶﾀｶﾅ), styled
    letters (𝐀), small and vertical presentation forms, canonical duplicates (CJK compatibility ideographs),
    and Kangxi radicals that PDF extraction leaves for ideographs (⾏ → 行). Not "…" → "...", ① → 1, ™ → TM or
    ㎡ → m2: those change what the text says, not how wide it is drawn."""
    tag = unicodedata.decomposition(char).split(" ")[0]
    if tag in _FOLDED_TAGS or not tag.startswith("<"):
        return True
    return tag == "<compat>" and len(folded) == 1 and unicodedata.name(folded, "").startswith("CJK UNIFIED")


@cache
def _fold_tables(fold_punctuation: bool) -> _FoldTables:
    """Per-character NFKC mapping (BMP and the supplementary planes' compatibility blocks), as lookup arrays."""
    one_to_one = np.arange(0x10000, dtype=np.uint32)
    expanding = np.zeros(0x10000, dtype=bool)
    other: dict[int, str] = {}
    for code in (*range(0xA0, 0xD800), *range(0xF900, 0x10000), *range(0x1D400, 0x1D800), *range(0x1F100, 0x1F250)):
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char)
        if folded == char or not folded.strip() and char != "\u3000" or not _folds(char, folded):
            continue
        if not fold_punctuation and _is_punctuation(folded):
            continue
        if code < 0x10000 and len(folded) == 1 and ord(folded) < 0x10000:
            one_to_one[code] = ord(folded)
        else:
            other[code] = folded
            if code < 0x10000:
                expanding[code] = True
    utf16 = one_to_one.astype(np.uint16)
    utf16[expanding] = _GENERAL
    utf16[0xD800:0xE000] = _GENERAL
    return _FoldTables(one_to_one, expanding, other, utf16)


def fold_table(fold_punctuation: bool) -> dict[int, str]:
    """The folding as a plain `str.translate` table: what `WidthFold` does, one character at a time.

    >>> "ＡＩ，⾏业".translate(fold_table(True))
    'AI,行业'
    """
    tables = _fold_tables(fold_punctuation)
    changed = np.flatnonzero(tables.one_to_one != np.arange(0x10000, dtype=np.uint32)).tolist()
    return {**{code: chr(int(tables.one_to_one[code])) for code in changed}, **tables.other}


@dataclass(frozen=True, slots=True)
class WidthFold:
    """NFKC compatibility folding of width and presentation forms, character by character, with punctuation
    optional (see `_folds` for which forms).

    >>> WidthFold()("ＡＩ＋传媒，２０２３年")
    CleanResult(text='AI+传媒,2023年', edits=(Edit(start=0, end=10, replacement='AI+传媒,2023'),), rules=(), changed=8)
    >>> WidthFold(fold_punctuation=False)("ＡＩ＋传媒，２０２３年").text
    'AI＋传媒，2023年'
    >>> WidthFold()("⾏业①……𝐀𝐈").text
    '行业①……AI'
    """

    fold_punctuation: bool = True
    name: str = "width_v2"
    rewrites: ClassVar[bool] = True

    def __call__(self, text: str) -> CleanResult:
        if text.isascii():
            return CleanResult(text)
        # Array lookups, not a Python step per character: this text is mostly CJK with a fold every few
        # characters (，。：and the full-width space), and str.translate manages only ~13 MB/s on it.
        tables = _fold_tables(self.fold_punctuation)
        # The common case, a text of the BMP in which nothing folds to several characters: a small table (it
        # stays in cache between documents) and one lookup per character.
        units = utf16_units(text)
        folded = tables.utf16.take(units)
        if folded.max() != _GENERAL:
            changed_at = np.flatnonzero(folded != units)
            if not len(changed_at):
                return CleanResult(text)
            first, last = int(changed_at[0]), int(changed_at[-1]) + 1
            after = folded.tobytes().decode("utf-16-le")
            return CleanResult(after, (Edit(first, last, after[first:last]),), changed=len(changed_at))
        codes = code_points(text)
        in_bmp = codes < 0x10000
        folded = codes.copy()
        folded[in_bmp] = tables.one_to_one[codes[in_bmp]]
        special = np.flatnonzero(~in_bmp)
        special = special[[int(codes[index]) in tables.other for index in special]] if len(special) else special
        special = np.union1d(special, np.flatnonzero(in_bmp)[tables.expanding[codes[in_bmp]]])
        if not len(special):
            return substitution(text, folded.tobytes().decode("utf-32-le", "surrogatepass"))
        one_for_one = folded.tobytes().decode("utf-32-le", "surrogatepass")
        # One coarse same-length edit per stretch between expanding characters (from its first to its last
        # changed character), found with array operations, then one edit per expanding character.
        changed_at = np.flatnonzero(folded != codes)
        stretch = np.searchsorted(special, changed_at)
        boundaries = np.flatnonzero(np.diff(stretch)) + 1
        firsts = changed_at[np.r_[0, boundaries]] if len(changed_at) else changed_at
        lasts = changed_at[np.r_[boundaries - 1, len(changed_at) - 1]] + 1 if len(changed_at) else changed_at
        edits = [Edit(first, last, one_for_one[first:last]) for first, last in zip(firsts.tolist(), lasts.tolist())]
        edits += (Edit(index, index + 1, tables.other[int(codes[index])]) for index in special.tolist())
        edits.sort(key=lambda edit: edit.start)
        changed = len(changed_at) + len(special)
        return CleanResult(apply_edits(text, edits), tuple(edits), changed=changed)


@dataclass(frozen=True)
class ChineseConversion:
    """OpenCC conversion, e.g. traditional to simplified.

    >>> ChineseConversion("t2s")("華泰證券研究報告").text
    '华泰证券研究报告'

    Most of a simplified corpus has nothing to convert, and OpenCC costs as much as the rest of cleaning: only
    the lines holding a character that some entry of the profile's dictionaries changes are converted
    (`prefilter=False` converts the whole text; the result is the same, see `_change_triggers`).
    """

    profile: str = "t2s"
    prefilter: bool = True
    name: str = field(init=False)
    rewrites: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"opencc_{self.profile}_v1")

    def __call__(self, text: str) -> CleanResult:
        if text.isascii():
            return CleanResult(text)
        converter = _converter(self.profile)
        triggers = _change_triggers(self.profile) if self.prefilter else None
        if triggers is None:
            return rewrite(text, converter.convert(text))
        lines: list[tuple[int, int]] = []
        line_end = 0
        for found in triggers.positions(text):
            if found < line_end:
                continue  # in a line taken already
            if len(lines) == _FEW_LINES:  # a text in traditional characters: one call is cheaper
                return rewrite(text, converter.convert(text))
            line_start = text.rfind("\n", 0, found) + 1
            line_end = text.find("\n", found + 1)
            line_end = len(text) if line_end < 0 else line_end
            lines.append((line_start, line_end))
        if not lines:
            return CleanResult(text)
        pieces: list[str] = []
        position = 0
        for line_start, line_end in lines:
            pieces += (text[position:line_start], converter.convert(text[line_start:line_end]))
            position = line_end
        pieces.append(text[position:])
        return rewrite(text, "".join(pieces))


_FEW_LINES = 4
"""Lines to convert one by one at most; a text with more is converted in one call."""


@cache
def _converter(profile: str) -> opencc.OpenCC:
    return opencc.OpenCC(profile)


@dataclass(frozen=True)
class _ChangeTriggers:
    """Where a profile's dictionaries may change a text: the first character that each changing key changes,
    checked at each occurrence. A character that a key of its own changes ("華") changes the line; one that only
    longer keys change ("覆" of 回覆→回复, common in simplified text as in 覆盖) does so only where one of those
    keys is written around it."""

    table: np.ndarray
    """Over every code point: True for the first changed character of some changing key."""
    alone: frozenset[str]
    """Characters that a single-character key changes."""
    keys: dict[str, tuple[tuple[int, tuple[str, ...]], ...]]
    """The other characters: the changing keys whose first changed character they are, by its offset there."""

    def positions(self, text: str) -> Iterator[int]:
        """Each position, in order, at which some changing key has its first changed character. One table
        lookup per character finds the candidates (a regular expression's class of ~5,000 characters is
        several times slower); Python looks only at those.

        >>> triggers = _change_triggers("t2s")
        >>> list(triggers.positions("覆盖率回升")), list(triggers.positions("请回覆華泰"))
        ([], [2, 3])
        """
        codes = code_points(text)
        for at in np.flatnonzero(self.table.take(codes)).tolist():
            char = text[at]
            if char in self.alone or any(at >= offset and text.startswith(keys, at - offset)
                                         for offset, keys in self.keys.get(char, ())):
                yield at


@cache
def _change_triggers(profile: str) -> _ChangeTriggers | None:
    """Where a text may change under `profile` (`_ChangeTriggers`), line by line; None when the profile's
    dictionaries cannot be read (then every text is converted).

    OpenCC rewrites a text by matching dictionary keys; a key holds no line break, so each line converts on its
    own, and a line changes only where a key whose value differs from it occurs. One character of each such key
    (the first that its value changes) is enough to find it: "華" for 華→华, "覆" for 回覆→回复.
    """
    alone: set[str] = set()
    keys: dict[str, dict[int, set[str]]] = {}
    try:
        for key, value in _dictionary_entries(_converter(profile).config):
            if value != key:
                offset = next((index for index, (old, new) in enumerate(zip(key, value)) if old != new), 0)
                if len(key) == 1:
                    alone.add(key)
                else:
                    keys.setdefault(key[offset], {}).setdefault(offset, set()).add(key)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if not alone and not keys:
        return None
    table = np.zeros(0x110000, dtype=bool)
    table[[ord(char) for char in alone | set(keys)]] = True
    return _ChangeTriggers(table, frozenset(alone),
                           {char: tuple((offset, tuple(sorted(found[offset]))) for offset in sorted(found))
                            for char, found in keys.items() if char not in alone})


def _dictionary_entries(config_path: str) -> Iterator[tuple[str, str]]:
    """(key, value) of every dictionary a profile's config names; OpenCC converts with a key's first value.
    Binary dictionaries are read through the `opencc_dict` tool that ships with OpenCC."""
    config = Path(config_path)
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    tool = str(tool) if tool.is_file() else shutil.which("opencc_dict")
    for entry in _dictionaries(json.loads(config.read_text(encoding="utf-8"))):
        path = config.parent / entry["file"]
        if entry.get("type") == "text":
            lines = path.read_text(encoding="utf-8").splitlines()
        else:
            if tool is None:
                raise ValueError("opencc_dict not found")
            with tempfile.TemporaryDirectory() as scratch:
                dumped = Path(scratch) / "dictionary.txt"
                subprocess.run([tool, "-i", str(path), "-o", str(dumped), "-f", entry.get("type", "ocd2"), "-t", "text"],
                               check=True, capture_output=True, timeout=60)
                lines = dumped.read_text(encoding="utf-8").splitlines()
        for line in lines:
            key, _, values = line.partition("\t")
            if key:
                yield key, values.split(" ")[0]


def _dictionaries(node) -> Iterator[dict]:
    """Every dictionary entry ({"type": ..., "file": ...}) anywhere in an OpenCC config."""
    if isinstance(node, dict):
        if "file" in node:
            yield node
        for value in node.values():
            yield from _dictionaries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dictionaries(value)
