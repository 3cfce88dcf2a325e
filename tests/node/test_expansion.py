"""``$(VAR)`` expansion, including every odd corner of the syntax."""

import pytest

from vk_trio.node._expansion import expand, mapping_for, references

CONTEXT = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_EMPTY": "", "VAR_REF": "$(VAR_A)"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
        ("$(VAR_EMPTY)", ""),
        ("$(VAR_REF)", "$(VAR_A)"),  # no recursive expansion
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$(VAR_A", "$(VAR_A"),
        ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),  # the name runs to the first ')'
        ("$VAR_A", "$VAR_A"),
        ("foo$", "foo$"),
        ("$", "$"),
        ("$$", "$"),
        ("$()", "$()"),
        ("no refs", "no refs"),
        ("", ""),
        ("$(VAR_A)$", "A$"),
        ("$(", "$("),
        ("$($(VAR_A))", "$($(VAR_A))"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, mapping_for(CONTEXT)) == expected


def test_mapping_prefers_earlier_contexts() -> None:
    lookup = mapping_for({"X": "first"}, {"X": "second", "Y": "y"})
    assert lookup("X") == "first"
    assert lookup("Y") == "y"
    assert lookup("Z") is None


def test_references_skip_escaped_ones() -> None:
    assert references("$(A) $$(B) $(C $(D)") == {"A", "C $(D"}
