"""The three-way node-status patch (the Go version's annotation-preservation tests, ours)."""

from typing import Any

import orjson

from vk_trio.node._node_status import (
    LAST_APPLIED_META_ANNOTATION,
    LAST_APPLIED_STATUS_ANNOTATION,
    last_applied,
    node_status_patch,
    with_last_applied,
)
from vk_trio.node._strategic import apply_strategic_patch


def desired(
    labels: dict[str, str], annotations: dict[str, str], conds: list[Any]
) -> dict[str, Any]:
    return {
        "metadata": {"name": "vk", "labels": labels, "annotations": annotations},
        "status": {"phase": "Running", "conditions": conds},
    }


def server(node: dict[str, Any]) -> dict[str, Any]:
    out = dict(node)
    out["metadata"] = {**node["metadata"], "uid": "u-1", "resourceVersion": "7"}
    return out


READY = {"type": "Ready", "status": "True"}


def test_first_patch_on_a_node_without_annotations() -> None:
    current = server({"metadata": {"name": "vk", "annotations": {"before": "kept"}}, "status": {}})
    want = desired({"l": "1"}, {"mine": "x"}, [READY])
    patch = node_status_patch(want, current)
    result = apply_strategic_patch(current, patch)
    annotations = result["metadata"]["annotations"]
    assert annotations["before"] == "kept"  # annotations from before we took over survive
    assert annotations["mine"] == "x"
    assert orjson.loads(annotations[LAST_APPLIED_STATUS_ANNOTATION]) == want["status"]
    assert orjson.loads(annotations[LAST_APPLIED_META_ANNOTATION]) == {
        "name": "vk",
        "uid": "u-1",
        "labels": {"l": "1"},
        "annotations": {"mine": "x"},
    }
    assert result["metadata"]["labels"] == {"l": "1"}
    assert result["status"]["conditions"] == [READY]
    assert last_applied(result)["status"] == want["status"]


def test_manual_conditions_and_annotations_are_preserved() -> None:
    current = server({"metadata": {"name": "vk"}, "status": {}})
    first = desired({}, {"ours": "1", "dropme": "1"}, [READY])
    current = apply_strategic_patch(current, node_status_patch(first, current))
    # someone else adds a condition and an annotation
    current["status"]["conditions"].append({"type": "Manual", "status": "True"})
    current["metadata"]["annotations"]["theirs"] = "t"
    # we drop an annotation and add a condition
    second = desired({}, {"ours": "2"}, [READY, {"type": "Extra", "status": "False"}])
    current = apply_strategic_patch(current, node_status_patch(second, current))
    annotations = current["metadata"]["annotations"]
    assert annotations["ours"] == "2"
    assert annotations["theirs"] == "t"
    assert "dropme" not in annotations
    assert [c["type"] for c in current["status"]["conditions"]] == ["Ready", "Manual", "Extra"]


def test_unchanged_state_gives_an_empty_patch() -> None:
    current = server({"metadata": {"name": "vk"}, "status": {}})
    want = desired({"a": "b"}, {}, [READY])
    current = apply_strategic_patch(current, node_status_patch(want, current))
    assert node_status_patch(want, current) == {}


def test_broken_annotations_fall_back_to_an_empty_original() -> None:
    current = server(
        {
            "metadata": {
                "name": "vk",
                "labels": {"x": "1"},
                "annotations": {
                    LAST_APPLIED_META_ANNOTATION: "{not json",
                    LAST_APPLIED_STATUS_ANNOTATION: "{}",
                },
            },
            "status": {},
        }
    )
    assert last_applied(current) == {}
    result = apply_strategic_patch(current, node_status_patch(desired({}, {}, []), current))
    assert result["metadata"]["labels"] == {"x": "1"}  # nothing we applied → nothing deleted


def test_created_node_carries_the_annotations_and_patches_cleanly() -> None:
    want = desired({"l": "1"}, {"mine": "x"}, [READY])
    created = server(with_last_applied(want))
    assert created["metadata"]["annotations"]["mine"] == "x"
    assert last_applied(created)["status"] == want["status"]
    # dropping our annotation later deletes it, because we know we applied it
    later = desired({"l": "1"}, {}, [READY])
    result = apply_strategic_patch(created, node_status_patch(later, created))
    assert "mine" not in result["metadata"]["annotations"]
