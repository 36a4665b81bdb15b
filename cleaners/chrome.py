"""Web chrome removed by patterns that live in data (`cleaners/rules/*.yaml`), so a user can add a site's
chrome without a release.

A rule file holds a list of rules; each has an `id`, a `pattern` (Python regex, multiline mode, matched
against the text after Unicode folding) and a `kind`:

- `span`: remove exactly what the pattern matches (a banner glued to a title, a title suffix);
- `line`: remove every whole line in which the pattern matches (a breadcrumb, a counter line);
- `tail`: remove from the start of the line where the pattern first matches to the end of the document
  (a customer-service footer after which nothing of the report follows).

A match never crosses a line break: rules are matched line by line, in candidate lines (see `ChromeRules`).

Optional `first_lines: N` / `last_lines: N` let a match start only within the first / last N non-blank lines: a lone
date or "2页" is page metadata in a header and may be report text anywhere else, and a footer rule must
never cut a report in half because a phrase like "服务热线" turns up in its body.

Lineage records `<cleaner name>:<rule id>` for each removed span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import xxhash
import yaml

from cleaners.base import CleanResult, labelled_removals
from cleaners.chain import _OffsetMap
from cleaners.patterns import required_literals, stays_within_lines

RULES_DIR = Path(__file__).parent / "rules"
_RULE_KEYS = {"id", "pattern", "kind", "first_lines", "last_lines"}


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message is one line. The config check turns it into a user error."""


@dataclass(frozen=True, slots=True)
class ChromeRule:
    id: str
    pattern: re.Pattern[str]
    kind: Literal["span", "line", "tail"] = "span"
    first_lines: int | None = None
    last_lines: int | None = None

    def in_lines(self, text: str, line_starts: Iterable[int],
                 needles: tuple[str, ...] | None = None) -> list[tuple[int, int]]:
        """The spans this rule removes, matching within each of the lines that start at `line_starts`; a
        line without any of `needles` (literals every match contains) is skipped without running the regex."""
        anchored = self.pattern.pattern.startswith("^")
        spans: list[tuple[int, int]] = []
        for line_start in line_starts:
            line_end = text.find("\n", line_start)
            line_end = len(text) if line_end < 0 else line_end
            if needles:
                for needle in needles:
                    if text.find(needle, line_start, line_end) >= 0:
                        break
                else:
                    continue
            if anchored:
                match = self.pattern.match(text, line_start, line_end)
                matches = (match,) if match else ()
            else:
                matches = self.pattern.finditer(text, line_start, line_end)
            for match in matches:
                if self.kind == "tail":
                    return [(line_start, len(text))]
                if self.kind == "line":
                    spans.append((line_start, min(line_end + 1, len(text))))
                    break
                if match.end() > match.start():
                    spans.append(match.span())
        return spans


class ChromeRules:
    """Apply a set of `ChromeRule`s; each removed span is attributed to the rule that matched it first.

    Only candidate lines are matched: the first or last N non-blank lines for a windowed rule, and for the
    others the lines holding a literal that every match of the rule contains (`required_literals`), all found
    in one pass of a single alternation. Rules without such literals try every line of their window; one
    without a window tries every line of the text once a search over the whole text has found something: for
    a pattern that cannot take in a line break (`stays_within_lines`) no match there means no match in any line.
    `prefilter=False` tries every rule on every line of its window: slower, and the same spans.

    Idempotent by itself: once lines are removed, the windowed rules look again (other lines have moved into
    the first or last N), and every rule looks again at a line that lost part of itself.
    """

    def __init__(self, rules: Iterable[ChromeRule], name: str = "chrome_v1", prefilter: bool = True) -> None:
        self.rules = tuple(rules)
        self.name = name
        self.prefilter = prefilter
        self._within_lines = {rule.id for rule in self.rules if stays_within_lines(rule.pattern)}
        # Needles: the literals one of which every match of a rule contains. One alternation of every rule's
        # needles finds the candidate lines in one pass; one-character needles ("页", "-") would hit everywhere,
        # so a rule with those simply tries the few lines of its window.
        self._needles = {rule.id: required_literals(rule.pattern) for rule in self.rules}
        self._scanned = {rule.id for rule in self.rules if _scannable(self._needles[rule.id])}
        literals = {needle for rule_id in self._scanned for needle in self._needles[rule_id]}
        self._needle_scan = (re.compile("|".join(map(re.escape, sorted(literals, key=len, reverse=True))))
                             if literals else None)
        # The scan reports non-overlapping matches, so a match may hide a needle it overlaps: a rule is also
        # tried on the lines where such a match was found.
        self._signalled = {found: tuple(rule.id for rule in self.rules if rule.id in self._scanned
                                        and any(_overlap(found, needle) for needle in self._needles[rule.id]))
                           for found in literals}
        self._sides = {rule.id: {side for side, lines in (("first", rule.first_lines), ("last", rule.last_lines)) if lines}
                       for rule in self.rules}
        self._first = max((rule.first_lines or 0 for rule in self.rules), default=0)
        self._last = max((rule.last_lines or 0 for rule in self.rules), default=0)

    def __call__(self, text: str) -> CleanResult:
        windows = _Windows(text, self._first, self._last)
        spans = self._spans(text, windows)
        result = labelled_removals(text, spans)
        while result.edits:
            # Look again only where something can have changed: a window that lost lines (later lines move
            # in) and lines that lost part of themselves. A line removed elsewhere changes no other line.
            head, tail = windows.head(), windows.tail()
            sides = {side for side, moved in (("first", head and result.edits[0].start <= _line_end(text, head[-1])),
                                              ("last", tail and result.edits[-1].end > tail[0])) if moved}
            windows = _Windows(result.text, self._first, self._last)
            again = self._spans(result.text, windows, self._partly_removed_lines(text, result), sides)
            if not again:
                break
            back = _OffsetMap(result.edits)
            spans += ((back.back(start, is_end=False), back.back(end, is_end=True), rule) for start, end, rule in again)
            more = labelled_removals(text, spans)
            if more.text == result.text:
                break
            result = more
        return result

    def _spans(self, text: str, windows: _Windows, only_lines: list[int] | None = None,
               sides: set[str] | None = None) -> list[tuple[int, int, str]]:
        """Spans of every rule, each tried on its candidate lines: a windowed rule on the lines of its window
        that hold one of its needles, the others on the lines that hold one of any rule's needles (found in
        one scan). A second look passes `only_lines` for the unwindowed rules and the window `sides` to redo."""
        candidates = self._candidate_lines(text, only_lines) if self.prefilter else {}
        spans: list[tuple[int, int, str]] = []
        for rule in self.rules:
            needles = self._needles[rule.id] if self.prefilter else None
            windowed = rule.first_lines or rule.last_lines
            if windowed and sides is not None and sides.isdisjoint(self._sides[rule.id]):
                continue
            if not self.prefilter:
                starts = windows.lines(rule) if windowed else windows.every_line() if only_lines is None else only_lines
            elif rule.id in self._scanned and (only_lines is None or not windowed):
                starts = candidates.get(rule.id)
                if not starts:
                    continue
                if windowed:
                    window = windows.line_set(rule)
                    starts = [start for start in starts if start in window]
            elif windowed:
                starts = windows.lines(rule)
                if not starts or needles and not _holds(text, starts[0], starts[-1], needles):
                    continue  # no needle anywhere in the window: skip its lines
            elif only_lines is not None:
                starts = only_lines
            else:
                starts = windows.every_line()
                if starts and not self._may_match(rule, text, starts[0], starts[-1]):
                    continue
            if starts:
                spans += ((start, end, rule.id) for start, end in rule.in_lines(text, starts, needles))
        return spans

    def _may_match(self, rule: ChromeRule, text: str, first_line: int, last_line: int) -> bool:
        """False when `rule` cannot match in any line from `first_line` to `last_line`: one search over them all,
        which is as good as a search in each when the pattern stays within lines (and much cheaper than a
        call per line when the lines are many)."""
        return rule.id not in self._within_lines or bool(rule.pattern.search(text, first_line, _line_end(text, last_line)))

    def _candidate_lines(self, text: str, only_lines: list[int] | None = None) -> dict[str, list[int]]:
        """Per scanned rule, the sorted starts of the lines (all, or `only_lines`) where the one scan found a
        literal it needs."""
        lines: dict[str, list[int]] = {}
        if self._needle_scan is None:
            return lines
        if only_lines is None:
            found = ((text.rfind("\n", 0, match.start()) + 1, match.group()) for match in self._needle_scan.finditer(text))
        else:
            found = ((line_start, match.group()) for line_start in only_lines
                     for match in self._needle_scan.finditer(text, line_start, _line_end(text, line_start)))
        for line_start, literal in found:
            for rule_id in self._signalled[literal]:
                starts = lines.setdefault(rule_id, [])
                if not starts or starts[-1] != line_start:
                    starts.append(line_start)
        return lines

    def _partly_removed_lines(self, text: str, result: CleanResult) -> list[int]:
        """Starts, in `result.text`, of the lines that lost part of themselves."""
        starts: set[int] = set()
        shift = 0
        for edit in result.edits:
            if not _whole_lines(text, edit.start, edit.end):
                position = edit.start - shift
                starts.add(result.text.rfind("\n", 0, position) + 1)
            shift += edit.end - edit.start
        return sorted(starts)


def _whole_lines(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end - 1] == "\n")


class _Windows:
    """The first and last non-blank lines of one text, found when first asked for. Blank lines do not count,
    so squeezing them moves no line in or out of a window."""

    def __init__(self, text: str, first: int, last: int) -> None:
        self.text, self.first, self.last = text, first, last
        self._head: list[int] | None = None
        self._tail: list[int] | None = None
        self._every: list[int] | None = None
        self._lines: dict[tuple[int | None, int | None], list[int]] = {}
        self._sets: dict[tuple[int | None, int | None], set[int]] = {}

    def lines(self, rule: ChromeRule) -> list[int]:
        window = (rule.first_lines, rule.last_lines)
        if window not in self._lines:
            starts = self.head()[:rule.first_lines] if rule.first_lines else self.tail()[-rule.last_lines:]
            if rule.first_lines and rule.last_lines:
                starts = sorted(set(starts) & set(self.tail()[-rule.last_lines:]))
            self._lines[window] = starts
        return self._lines[window]

    def line_set(self, rule: ChromeRule) -> set[int]:
        window = (rule.first_lines, rule.last_lines)
        if window not in self._sets:
            self._sets[window] = set(self.lines(rule))
        return self._sets[window]

    def head(self) -> list[int]:
        if self._head is None:
            self._head = _non_blank_lines(self.text, self.first, last=False)
        return self._head

    def tail(self) -> list[int]:
        if self._tail is None:
            self._tail = _non_blank_lines(self.text, self.last, last=True)
        return self._tail

    def every_line(self) -> list[int]:
        if self._every is None:
            self._every = _line_starts(self.text)
        return self._every


def _non_blank_lines(text: str, count: int, *, last: bool) -> list[int]:
    """Starts of the first (or `last`) `count` lines that are not blank, in order. One split cuts off the lines
    (twice as many as wanted, more when blank lines get in the way) instead of a search per line."""
    splits = 2 * count
    while count > 0:
        pieces = text.rsplit("\n", splits) if last else text.split("\n", splits)
        whole = len(pieces) <= splits  # else the piece at the far end is the rest of the text, not a line
        if not whole:
            pieces = pieces[1:] if last else pieces[:-1]
        starts: list[int] = []
        position = len(text) + 1 if last else 0  # from the end: the start of the line after the piece
        for piece in reversed(pieces) if last else pieces:
            start = position - len(piece) - 1 if last else position
            position = start if last else position + len(piece) + 1
            if piece and not piece.isspace():
                starts.append(start)
                if len(starts) == count:
                    return starts[::-1] if last else starts
        if whole:
            return starts[::-1] if last else starts
        splits *= 4
    return []


def _scannable(needles: tuple[str, ...] | None) -> bool:
    return bool(needles) and all(len(needle) >= 2 and "\n" not in needle for needle in needles)


def _line_end(text: str, line_start: int) -> int:
    end = text.find("\n", line_start)
    return len(text) if end < 0 else end


def _holds(text: str, start: int, last_line_start: int, needles: tuple[str, ...]) -> bool:
    end = text.find("\n", last_line_start)
    return any(text.find(needle, start, len(text) if end < 0 else end) >= 0 for needle in needles)


def _overlap(found: str, needle: str) -> bool:
    """Whether an occurrence of `found` may contain or overlap one of `needle` (or be it)."""
    return (needle in found or found in needle or any(found.endswith(needle[:size]) for size in range(1, len(needle)))
            or any(needle.endswith(found[:size]) for size in range(1, len(found))))


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in re.finditer("\n", text) if match.end() < len(text))]


def read_rule_files(names_or_paths: Iterable[str]) -> list[dict]:
    """Parsed rule files: `cleaners/rules/<name>.yaml`, or a path to a YAML file."""
    documents = []
    for item in names_or_paths:
        path = Path(item) if item.endswith((".yaml", ".yml")) else RULES_DIR / f"{item}.yaml"
        if not path.is_file():
            raise RuleFileError(f"rule file not found: {path} (cleaning.rules lists names in {RULES_DIR} or YAML paths)")
        try:
            documents.append(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            raise RuleFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return documents


def rule_set_digests(names_or_paths: Iterable[str]) -> dict[str, str]:
    """xxh3-64 of each rule set's parsed content (canonical JSON: comments and layout do not count), so
    a store can tell when a rule file it was cleaned with has changed."""
    names = list(names_or_paths)
    return {name: xxhash.xxh3_64_hexdigest(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
                                           .encode("utf-8"))
            for name, data in zip(names, read_rule_files(names))}


def chrome_rules(rule_files: Iterable[dict]) -> list[ChromeRule]:
    """The `chrome:` entries of parsed rule files; a bad entry is a user error naming its id."""
    return [_rule(entry) for data in rule_files for entry in data.get("chrome", [])]


def _rule(entry: dict) -> ChromeRule:
    rule_id = entry.get("id", "?")
    unknown = set(entry) - _RULE_KEYS
    if unknown or "pattern" not in entry or entry.get("kind", "span") not in ("span", "line", "tail"):
        raise RuleFileError(f"chrome rule '{rule_id}': needs id and pattern, kind span/line/tail, optional "
                        f"first_lines/last_lines (got keys {sorted(entry)})")
    try:
        pattern = re.compile(entry["pattern"], re.MULTILINE)
    except re.error as exc:
        raise RuleFileError(f"chrome rule '{rule_id}': bad regular expression ({exc})") from None
    return ChromeRule(rule_id, pattern, entry.get("kind", "span"), entry.get("first_lines"), entry.get("last_lines"))
