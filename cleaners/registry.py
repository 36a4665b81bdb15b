"""Config names to cleaners: adding a rule family touches this one file."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cleaners.base import Cleaner
from cleaners.chain import ChainResult, CleaningChain
from cleaners.chrome import ChromeRules, chrome_rules, read_rule_files
from cleaners.rewrites import EmojiRewrites
from cleaners.repeats import RepeatedLines
from cleaners.templates import LineCounts, TemplateLines, select_template_lines, template_lines
from cleaners.mojibake import MojibakeRepair
from cleaners.unicode import ChineseConversion, InvisibleCharacters, WidthFold
from cleaners.whitespace import BlankLines

# config: fincorpus.config.CleaningConfig, duck-typed so that cleaners never import the application.


def build_chain(config) -> CleaningChain:
    """The per-document chain in its fixed order: repairs and folding first, so rules see folded text."""
    rule_files = read_rule_files(config.rules)
    cleaners: list[Cleaner] = []
    if config.ftfy != "never":
        cleaners.append(MojibakeRepair(config.ftfy))
    cleaners.append(InvisibleCharacters())
    if config.fold_width:
        cleaners.append(WidthFold(fold_punctuation=config.punctuation == "halfwidth"))
    if config.opencc:
        cleaners.append(ChineseConversion(config.opencc))
    cleaners.append(ChromeRules(chrome_rules(rule_files)))
    if config.emoji_rewrites:
        markers = tuple(re.compile(pattern) for data in rule_files for pattern in data.get("rewrite_markers", []))
        cleaners.append(EmojiRewrites(config.emoji_min_count, config.emoji_min_density, markers))
    if config.repeated_line_min_count:
        cleaners.append(RepeatedLines(config.repeated_line_min_count, config.repeated_line_max_chars,
                                      keep=_keep_patterns(rule_files)))
    if config.squeeze_blank_lines:
        cleaners.append(BlankLines())
    return CleaningChain(cleaners)


def clean_batch(texts: Sequence[str], sources: Sequence[str], config,
                run_first_pass: Callable[[Sequence[str]], list[ChainResult]] | None = None) -> list[ChainResult]:
    """Clean a batch: the per-document chain, then the template lines of each source counted over the whole
    batch (`cleaners.templates`), frozen into a cleaner and run on that source's documents.

    `sources[i]` groups `texts[i]` with the other documents of its site ("" when unknown). A batch cut into
    parts cleans alike: `first_pass` and `count_lines` per part, `batch_templates` over the merged counts,
    then `finish_batch` per part. `run_first_pass`, when given, runs `first_pass` elsewhere (in worker
    processes), each text's result in order.
    """
    results = run_first_pass(texts) if run_first_pass else first_pass(texts, config)
    templates = template_lines([result.text for result in results], sources, min_docs=config.template_min_docs,
                               min_share=config.template_min_share, max_line_chars=config.template_max_chars,
                               keep=_keep_patterns(read_rule_files(config.rules)))
    return finish_batch(results, sources, templates, config)


def first_pass(texts: Sequence[str], config) -> list[ChainResult]:
    """The per-document chain over each text."""
    return build_chain(config).clean_all(texts)


def batch_templates(counts: LineCounts, config) -> dict[str, frozenset[str]]:
    """The template lines of each source from the line counts of a whole batch (see `clean_batch`)."""
    return select_template_lines(counts, min_docs=config.template_min_docs, min_share=config.template_min_share,
                                 keep=_keep_patterns(read_rule_files(config.rules)))


def finish_batch(results: list[ChainResult], sources: Sequence[str], templates: dict[str, frozenset[str]],
                 config) -> list[ChainResult]:
    """Run each source's frozen template lines on its documents' first-pass results (in place)."""
    if templates:
        finish: dict[str, list[Cleaner]] = {source: [TemplateLines(lines)] for source, lines in templates.items()}
        if config.squeeze_blank_lines:
            for cleaners in finish.values():
                cleaners.append(BlankLines())
        for result, source in zip(results, sources):
            if source in finish:
                CleaningChain.resume(result, finish[source])
    return results


def _keep_patterns(rule_files: list[dict]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for data in rule_files for pattern in data.get("keep_repeated", []))
