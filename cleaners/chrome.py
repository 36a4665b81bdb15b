"""Web chrome removed by patterns that live in data (`cleaners/rules/*.yaml`), so a user can add a site's
chrome without a release.

A rule file holds a list of rules; each has an `id`, a `pattern` (Python regex, multiline mode, matched
against the text after Unicode folding) and a `kind`:

- `span`: remove exactly what the pattern matches (a banner glued to a title, a title suffix);
- `line`: remove every whole line in which the pattern matches (a breadcrumb, a counter line);
- `tail`: remove from the start of the line where the pattern first matches to the end of the document
  (a customer-service footer after which nothing of the report follows).

Lineage records `<cleaner name>:<rule id>` for each removed span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from cleaners.base import CleanResult, removals

RULES_DIR = Path(__file__).parent / "rules"


@dataclass(frozen=True, slots=True)
class ChromeRule:
    id: str
    pattern: re.Pattern[str]
    kind: Literal["span", "line", "tail"] = "span"

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        if self.kind == "span":
            return (match.span() for match in self.pattern.finditer(text) if match.end() > match.start())
        if self.kind == "line":
            return (_line_of(text, match.start()) for match in self.pattern.finditer(text))
        match = self.pattern.search(text)
        return [(_line_of(text, match.start())[0], len(text))] if match else []


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
        labelled = sorted((start, -end, rule.id) for rule in self.rules for start, end in rule.spans(text))
        result = removals(text, ((start, -negative_end) for start, negative_end, _ in labelled))
        if not result.edits:
            return result
        # Overlapping spans merge into one edit, owned by the earliest (then longest) span in it.
        owners = iter(labelled)
        rules: list[str] = []
        current = next(owners)
        for edit in result.edits:
            while current[0] < edit.start:
                current = next(owners)
            rules.append(current[2])
        return CleanResult(result.text, result.edits, tuple(rules))


def read_rule_files(names_or_paths: Iterable[str]) -> list[dict]:
    """Parsed rule files: `cleaners/rules/<name>.yaml`, or a path to a YAML file."""
    documents = []
    for item in names_or_paths:
        path = Path(item) if item.endswith((".yaml", ".yml")) else RULES_DIR / f"{item}.yaml"
        documents.append(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return documents


def chrome_rules(rule_files: Iterable[dict]) -> list[ChromeRule]:
    return [ChromeRule(entry["id"], re.compile(entry["pattern"], re.MULTILINE), entry.get("kind", "span"))
            for data in rule_files for entry in data.get("chrome", [])]
