"""Fast paths give exactly what the plain definition gives: speed never changes an output."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaners.unicode import WidthFold, _width_table

MIXED = st.text(st.one_of(st.sampled_from(list("ＡＢ１２，。：（）　～＄华泰ｶﾞ㍻①ﬁ\u3000\u00a0")), st.characters()), max_size=300)


@settings(max_examples=200, deadline=None)
@given(MIXED, st.booleans())
def test_width_fold_equals_translating_every_character_with_its_table(text, fold_punctuation):
    table, _ = _width_table(fold_punctuation)
    result = WidthFold(fold_punctuation=fold_punctuation)(text)
    assert result.text == text.translate(table)
    for edit in result.edits:  # each edit is one maximal run of folded characters
        assert all(ord(char) in table for char in text[edit.start:edit.end])
        assert edit.start == 0 or ord(text[edit.start - 1]) not in table
        assert edit.end == len(text) or ord(text[edit.end]) not in table
