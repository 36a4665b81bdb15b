"""Config names to cleaners: adding a rule family touches this one file."""

from __future__ import annotations

import re

from cleaners.base import Cleaner
from cleaners.chain import CleaningChain
from cleaners.chrome import ChromeRules, chrome_rules, read_rule_files
from cleaners.repeats import RepeatedLines
from cleaners.unicode import ChineseConversion, InvisibleCharacters, MojibakeRepair, WidthFold


def build_chain(config) -> CleaningChain:  # config: fincorpus.config.CleaningConfig (duck-typed: no import of the app)
    """The cleaning chain in its fixed order: repairs and folding first, so rules see folded text."""
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
    keep = tuple(re.compile(pattern) for data in rule_files for pattern in data.get("keep_repeated", []))
    cleaners.append(RepeatedLines(keep=keep))
    return CleaningChain(cleaners)
