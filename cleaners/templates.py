"""Site templates: short lines that many documents of one source share (navigation, a footer, a slogan).

One document cannot tell a template line from a heading, so this is a batch rule in two steps: a table pass
counts, per source, how many documents hold each line (`template_lines`); the lines found in enough of them
are then frozen into an ordinary cleaner (`TemplateLines`) that the chain runs on each document.

Near-duplicates share lines too (two forms of one report both have "风险提示"), so the thresholds are
counts over many documents and a share of the source, never "seen twice".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import polars as pl

from cleaners.base import CleanResult, removals


def template_lines(texts: Sequence[str], sources: Sequence[str], *, min_docs: int, min_share: float,
                   max_line_chars: int, keep: Sequence[re.Pattern[str]] = ()) -> dict[str, frozenset[str]]:
    """Per source, the stripped lines found in at least `min_docs` documents and `min_share` of its documents.

    >>> template_lines(["首页\\n甲", "首页\\n乙", "首页\\n丙"], ["site"] * 3, min_docs=3, min_share=0.5,
    ...                max_line_chars=20)
    {'site': frozenset({'首页'})}
    """
    if min_docs <= 0 or len(texts) < min_docs:
        return {}
    return select_template_lines(count_lines(texts, sources, max_line_chars), min_docs=min_docs,
                                 min_share=min_share, keep=keep)


@dataclass(frozen=True)
class LineCounts:
    """The table pass of `template_lines` over one part of a batch; parts add up (`merge_line_counts`)."""

    lines: pl.DataFrame
    """source, line, docs: how many documents of the part hold each stripped line."""
    sources: pl.DataFrame
    """source, source_docs: how many documents of the part each source has."""


LineTally = tuple[Counter[tuple[str, str]], Counter[str]]
"""`count_lines` as plain counters: (source, line) → documents holding it; source → documents."""

WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
              "\u200a\u2028\u2029\u202f\u205f\u3000")
"""What polars' `str.strip_chars()` strips (Unicode White_Space; `str.strip()` also strips U+001C-U+001F), so
that `line_tally` and `document_lines` take the same lines."""


def count_lines(texts: Sequence[str], sources: Sequence[str], max_line_chars: int) -> LineCounts:
    return counts_of(line_tally(texts, sources, max_line_chars))


def line_tally(texts: Sequence[str], sources: Sequence[str], max_line_chars: int) -> LineTally:
    """The table pass of `count_lines` in plain Python, which a forked worker can run (polars it cannot):
    each stripped line of 1 to `max_line_chars` characters, once per document, as `document_lines` takes it.

    >>> line_tally(["首页\\n甲\\n首页 ", "首页"], ["site", "site"], 20)[0][("site", "首页")]
    2
    """
    lines: Counter[tuple[str, str]] = Counter()
    for text, source in zip(texts, sources):
        kept = {stripped for line in text.split("\n")
                if 0 < len(stripped := line.strip(WHITESPACE)) <= max_line_chars}
        lines.update([(source, line) for line in kept])
    return lines, Counter(sources)


def counts_of(tally: LineTally) -> LineCounts:
    lines, sources = tally
    return LineCounts(pl.DataFrame({"source": [source for source, _ in lines], "line": [line for _, line in lines],
                                    "docs": list(lines.values())},
                                   schema={"source": pl.String, "line": pl.String, "docs": pl.Int64}),
                      pl.DataFrame({"source": list(sources), "source_docs": list(sources.values())},
                                   schema={"source": pl.String, "source_docs": pl.Int64}))


def document_lines(texts: Sequence[str], sources: Sequence[str], max_line_chars: int) -> pl.DataFrame:
    """doc (row in `texts`), source, line: each stripped line a template could be, once per document.
    What `count_lines` counts, kept per document by a store so later batches can add to the counts."""
    documents = pl.DataFrame({"source": list(sources), "text": list(texts)},
                             schema={"source": pl.String, "text": pl.String})
    return (documents.with_row_index("doc")
            .select("doc", "source", pl.col("text").str.split("\n").alias("line")).explode("line")
            .with_columns(pl.col("line").str.strip_chars())
            .filter(pl.col("line").str.len_chars().is_between(1, max_line_chars))
            .unique(["doc", "line"], maintain_order=True))


def merge_line_counts(parts: Sequence[LineCounts]) -> LineCounts:
    """The counts of the whole batch from the counts of its parts (each document in one part)."""
    return LineCounts(pl.concat([part.lines for part in parts]).group_by("source", "line").agg(pl.col("docs").sum()),
                      pl.concat([part.sources for part in parts]).group_by("source").agg(pl.col("source_docs").sum()))


def select_template_lines(counts: LineCounts, *, min_docs: int, min_share: float,
                          keep: Sequence[re.Pattern[str]] = ()) -> dict[str, frozenset[str]]:
    """The template lines of each source, from the line counts of the whole batch."""
    if min_docs <= 0 or counts.sources["source_docs"].sum() < min_docs:
        return {}
    lines = (counts.lines.join(counts.sources, on="source")
             .filter((pl.col("docs") >= min_docs) & (pl.col("docs") >= min_share * pl.col("source_docs"))))
    found: dict[str, set[str]] = {}
    for source, line in lines.select("source", "line").iter_rows():
        if not any(pattern.search(line) for pattern in keep):
            found.setdefault(source, set()).add(line)
    return {source: frozenset(found[source]) for source in sorted(found)}


@dataclass(frozen=True)
class TemplateLines:
    """Remove every line whose stripped text is one of the frozen template `lines`.

    >>> TemplateLines(frozenset({"返回顶部"}))("正文\\n 返回顶部\\n").text
    '正文\\n'
    """

    lines: frozenset[str]
    name: str = "template_lines_v1"

    def __call__(self, text: str) -> CleanResult:
        lines = text.split("\n")
        found = [number for number, line in enumerate(lines) if line.strip() in self.lines]
        if not found:
            return CleanResult(text)
        starts = list(accumulate([len(line) + 1 for line in lines], initial=0))  # each line with its newline
        return removals(text, [(starts[number], min(starts[number + 1], len(text))) for number in found])
