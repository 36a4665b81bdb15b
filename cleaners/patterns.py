"""What a rule's regular expression needs, read from its parse tree: the literals every match contains, and
whether a match can ever take in a line break. `cleaners.chrome` uses both to skip lines no rule can touch."""

from __future__ import annotations

import re
from re import _constants, _parser  # pattern parse trees

_NEWLINE = 10
_CATEGORIES_WITH_NEWLINE = {
    _constants.CATEGORY_SPACE, _constants.CATEGORY_NOT_DIGIT, _constants.CATEGORY_NOT_WORD,
    _constants.CATEGORY_LINEBREAK, _constants.CATEGORY_LOC_NOT_WORD, _constants.CATEGORY_UNI_SPACE,
    _constants.CATEGORY_UNI_NOT_DIGIT, _constants.CATEGORY_UNI_NOT_WORD, _constants.CATEGORY_UNI_LINEBREAK,
}
_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT)
# Assertions that hold alike at the end of a line cut off by `endpos` and before the line break there:
# ^ and \A look at the real start of the string (or just after a line break), \b takes "\n" for a non-word
# character as it does the end. $ too, in multiline mode; \Z and a single-line $ do not.
_LINE_SAFE_AT = {
    _constants.AT_BEGINNING, _constants.AT_BEGINNING_LINE, _constants.AT_BEGINNING_STRING, _constants.AT_END_LINE,
    _constants.AT_BOUNDARY, _constants.AT_NON_BOUNDARY, _constants.AT_LOC_BOUNDARY, _constants.AT_LOC_NON_BOUNDARY,
    _constants.AT_UNI_BOUNDARY, _constants.AT_UNI_NON_BOUNDARY,
}


def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    r"""Literal strings one of which every match of `pattern` contains, or None when there are none to find
    (or the pattern ignores case). Read from the parsed pattern; the most selective candidate wins.

    >>> required_literals(re.compile(r"^[ \t]*(当前位置|您的位置)[ \t]*[:：]"))
    ('当前位置', '您的位置')
    >>> required_literals(re.compile(r"\d+[ \t]*(年|个月)前")), required_literals(re.compile(r"^\d+$"))
    (('前',), None)
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        return _required(list(_parser.parse(pattern.pattern, pattern.flags)))
    except (re.error, TypeError, ValueError):  # an unexpected parse tree: simply no prefilter
        return None


def _required(items: list) -> tuple[str, ...] | None:
    candidates: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, argument in [*items, (None, None)]:
        if op is _constants.LITERAL:
            run.append(chr(argument))
            continue
        if run:
            candidates.append(("".join(run),))
            run = []
        found = None
        if op is _constants.SUBPATTERN and not argument[1] & re.IGNORECASE:
            found = _required(list(argument[3]))
        elif op is _constants.BRANCH:
            alternatives = [_required(list(branch)) for branch in argument[1]]
            if all(alternatives):
                found = tuple(needle for alternative in alternatives for needle in alternative)
        elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and argument[0] >= 1:
            found = _required(list(argument[2]))
        if found:
            candidates.append(found)
    return max(candidates, key=lambda needles: (min(map(len, needles)), -len(needles)), default=None)


def stays_within_lines(pattern: re.Pattern[str]) -> bool:
    r"""Whether `pattern` (compiled with re.MULTILINE) matches alike in one line cut out with `pos`/`endpos` and
    in a stretch of whole lines: no part of it can take in a line break, and none of its assertions tells the
    end of the string from the end of a line. Then one search over the stretch finds a match if and only if one
    of its lines has one. False when unsure (an unknown construct).

    >>> stays_within_lines(re.compile(r"^[ \t]*\d+[ \t]*页[ \t]*$", re.M))
    True
    >>> stays_within_lines(re.compile(r"禁用了\s*JavaScript", re.M)), stays_within_lines(re.compile(r"[^。]+", re.M))
    (False, False)
    """
    try:
        return _within_lines(list(_parser.parse(pattern.pattern, pattern.flags)), pattern.flags)
    except (re.error, TypeError, ValueError):
        return False


def _within_lines(items: list, flags: int) -> bool:
    for op, argument in items:
        if op is _constants.LITERAL:
            safe = argument != _NEWLINE
        elif op is _constants.NOT_LITERAL:
            safe = argument == _NEWLINE
        elif op is _constants.ANY:
            safe = not flags & re.DOTALL
        elif op is _constants.IN:
            safe = not _set_holds_newline(argument)
        elif op is _constants.BRANCH:
            safe = all(_within_lines(list(branch), flags) for branch in argument[1])
        elif op is _constants.SUBPATTERN:
            _, add_flags, del_flags, inner = argument
            safe = _within_lines(list(inner), (flags | add_flags) & ~del_flags)
        elif op in _REPEATS:
            safe = _within_lines(list(argument[2]), flags)
        elif op is _constants.ATOMIC_GROUP:
            safe = _within_lines(list(argument), flags)
        elif op in (_constants.ASSERT, _constants.ASSERT_NOT):
            safe = _within_lines(list(argument[1]), flags)
        elif op is _constants.GROUPREF:
            safe = True  # repeats what its group matched, which is checked where the group is
        elif op is _constants.GROUPREF_EXISTS:
            _, yes, no = argument
            safe = _within_lines(list(yes), flags) and (no is None or _within_lines(list(no), flags))
        elif op is _constants.AT:
            safe = argument in _LINE_SAFE_AT or (argument is _constants.AT_END and bool(flags & re.MULTILINE))
        else:
            safe = False
        if not safe:
            return False
    return True


def _set_holds_newline(items: list) -> bool:
    negated = False
    holds = False
    for op, argument in items:
        if op is _constants.NEGATE:
            negated = True
        elif op is _constants.LITERAL:
            holds |= argument == _NEWLINE
        elif op is _constants.RANGE:
            holds |= argument[0] <= _NEWLINE <= argument[1]
        elif op is _constants.CATEGORY:
            holds |= argument in _CATEGORIES_WITH_NEWLINE
        else:
            return True  # unknown: assume it may
    return holds != negated
