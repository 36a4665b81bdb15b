"""Web chrome removed by patterns that live in data (`cleaners/rules/*.yaml`), so a user can add a site's
chrome without a release.

A rule file holds a list of rules; each has an `id`, a `pattern` (Python regex, multiline mode, matched
against the text after Unicode folding) and a `kind`:

- `span`: remove exactly what the pattern matches (a banner glued to a title, a title suffix);
- `line`: remove every whole line in which the pattern matches (a breadcrumb, a counter line);
- `tail`: remove from the start of the line where the pattern first matches to the end of the document
  (a customer-service footer after which nothing of the report follows).

Optional `first_lines: N` / `last_lines: N` let a match start only within the first / last N lines: a lone
date or "2页" is page metadata in a header and may be report text anywhere else, and a footer rule must
never cut a report in half because a phrase like "服务热线" turns up in its body.

Lineage records `<cleaner name>:<rule id>` for each removed span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from cleaners.base import CleanResult, labelled_removals

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

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        start, end = self._region(text)
        if self.kind == "span":
            return (match.span() for match in self.pattern.finditer(text, start, end) if match.end() > match.start())
        if self.kind == "line":
            return (_line_of(text, match.start()) for match in self.pattern.finditer(text, start, end))
        match = self.pattern.search(text, start, end)
        return [(_line_of(text, match.start())[0], len(text))] if match else []

    def _region(self, text: str) -> tuple[int, int]:
        """Offsets where a match may lie: whole lines, so `^` and `$` still anchor at the region's edges."""
        start, end = 0, len(text)
        if self.first_lines is not None:
            end = -1
            for _ in range(self.first_lines):
                end = text.find("\n", end + 1)
                if end < 0:
                    end = len(text)
                    break
        if self.last_lines is not None:
            start = len(text) - 1 if text.endswith("\n") else len(text)
            for _ in range(self.last_lines):
                start = text.rfind("\n", 0, start)
                if start < 0:
                    break
            start += 1
        return start, max(start, end)


def _line_of(text: str, position: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, len(text) if end < 0 else end + 1


class ChromeRules:
    """Apply a set of `ChromeRule`s; each removed span is attributed to the rule that matched it first."""

    def __init__(self, rules: Iterable[ChromeRule], name: str = "chrome_v1") -> None:
        self.rules = tuple(rules)
        self.name = name

    def __call__(self, text: str) -> CleanResult:
        return labelled_removals(text, ((start, end, rule.id) for rule in self.rules for start, end in rule.spans(text)))


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
