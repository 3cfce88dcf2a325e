"""The small strategic-merge implementation for Node fields."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vk_trio.node._strategic import apply_strategic_patch, diff, three_way_merge_patch


def cond(kind: str, status: str, **extra: str) -> dict[str, str]:
    return {"type": kind, "status": status, **extra}


def test_two_way_diff_of_maps_and_keyed_lists() -> None:
    original = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "status": {"conditions": [cond("Ready", "False"), cond("Disk", "False")], "phase": "P"},
    }
    modified = {
        "metadata": {"labels": {"a": "1", "c": "3"}},
        "status": {"conditions": [cond("Ready", "True"), cond("New", "True")], "phase": "P"},
    }
    patch = diff(original, modified, {("status", "conditions"): "type"})
    assert patch == {
        "metadata": {"labels": {"c": "3", "b": None}},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True"},
                cond("New", "True"),
                {"type": "Disk", "$patch": "delete"},
            ]
        },
    }
    assert apply_strategic_patch(original, patch) == modified


def test_lists_without_merge_key_are_atomic() -> None:
    patch = diff({"spec": {"taints": [{"key": "a"}]}}, {"spec": {"taints": [{"key": "b"}]}}, {})
    assert patch == {"spec": {"taints": [{"key": "b"}]}}


def test_three_way_keeps_third_party_changes() -> None:
    original = {"metadata": {"labels": {"ours": "1", "dropped": "x"}}, "status": {"conditions": []}}
    modified = {
        "metadata": {"labels": {"ours": "2"}},
        "status": {"conditions": [cond("Ready", "True")]},
    }
    current = {
        "metadata": {"labels": {"ours": "1", "dropped": "x", "theirs": "t"}},
        "status": {"conditions": [cond("Ready", "False"), cond("Manual", "True")]},
    }
    patch = three_way_merge_patch(original, modified, current)
    assert patch == {
        "metadata": {"labels": {"dropped": None, "ours": "2"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert apply_strategic_patch(current, patch) == {
        "metadata": {"labels": {"ours": "2", "theirs": "t"}},
        "status": {"conditions": [cond("Ready", "True"), cond("Manual", "True")]},
    }


def test_three_way_deletes_conditions_we_applied_before() -> None:
    original = {"status": {"conditions": [cond("Ready", "True"), cond("Ours", "True")]}}
    modified = {"status": {"conditions": [cond("Ready", "True")]}}
    current = {
        "status": {"conditions": [cond("Ready", "True"), cond("Ours", "True"), cond("X", "1")]}
    }
    patch = three_way_merge_patch(original, modified, current)
    assert patch == {"status": {"conditions": [{"type": "Ours", "$patch": "delete"}]}}
    assert apply_strategic_patch(current, patch) == {
        "status": {"conditions": [cond("Ready", "True"), cond("X", "1")]}
    }


def test_three_way_no_change_is_empty() -> None:
    state = {"metadata": {"labels": {"a": "1"}}, "status": {"phase": "Running"}}
    assert three_way_merge_patch(state, state, state) == {}


def test_apply_handles_type_changes_and_deleting_missing_items() -> None:
    obj: dict[str, Any] = {"a": [1, 2], "status": {"conditions": []}}
    patch = {"a": {"x": 1}, "status": {"conditions": [{"type": "Gone", "$patch": "delete"}]}}
    assert apply_strategic_patch(obj, patch) == {"a": {"x": 1}, "status": {"conditions": []}}


labels = st.dictionaries(st.sampled_from("abcde"), st.sampled_from(["1", "2"]), max_size=5)
conditions = st.lists(
    st.builds(
        cond, st.sampled_from(["Ready", "Disk", "Mem", "X"]), st.sampled_from(["True", "False"])
    ),
    max_size=4,
    unique_by=lambda c: c["type"],
)


def node(lbl: dict[str, str], conds: list[dict[str, str]]) -> dict[str, Any]:
    return {"metadata": {"labels": lbl}, "status": {"conditions": conds}}


@given(labels, conditions, labels, conditions)
def test_two_way_patch_round_trips(l1: Any, c1: Any, l2: Any, c2: Any) -> None:
    original, modified = node(l1, c1), node(l2, c2)
    patched = apply_strategic_patch(
        original, diff(original, modified, {("status", "conditions"): "type"})
    )
    assert patched["metadata"] == modified["metadata"]
    assert sorted(patched["status"]["conditions"], key=str) == sorted(c2, key=str)


@given(l1=labels, c1=conditions, l2=labels, c2=conditions, foreign_l=labels, foreign_c=conditions)
def test_three_way_reaches_modified_and_keeps_foreign_keys(
    *, l1: Any, c1: Any, l2: Any, c2: Any, foreign_l: Any, foreign_c: Any
) -> None:
    original, modified = node(l1, c1), node(l2, c2)
    # current = what we applied last, plus keys only a third party wrote
    ours_l = set(l1) | set(l2)
    ours_c = {c["type"] for c in c1 + c2}
    extra_l = {k: v for k, v in foreign_l.items() if k not in ours_l}
    extra_c = [c for c in foreign_c if c["type"] not in ours_c]
    current = node({**l1, **extra_l}, c1 + extra_c)
    result = apply_strategic_patch(current, three_way_merge_patch(original, modified, current))
    assert result["metadata"]["labels"] == {**l2, **extra_l}
    assert sorted(result["status"]["conditions"], key=str) == sorted(c2 + extra_c, key=str)
