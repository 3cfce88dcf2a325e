"""PodRegistry and the per-pod memory the workers share."""

from vk_trio.node._pod_state import (
    PodRegistry,
    PodState,
    StatusWrite,
    copy_pod,
    share_with_cache,
    split_key,
)

from .podharness import make_pod


class DictLister:
    def __init__(self, pods: dict[str, dict[str, object]]) -> None:
        self.pods = pods

    def get(self, key: str) -> dict[str, object] | None:
        return self.pods.get(key)


def test_split_key() -> None:
    assert split_key("ns/web") == ("ns", "web")
    assert split_key("web") == ("", "web")


def test_state_is_created_once_and_forgotten() -> None:
    registry = PodRegistry(DictLister({}))  # type: ignore[arg-type]
    state = registry.state("ns/web")
    assert registry.state("ns/web") is state
    assert registry.known == {"ns/web": state}
    registry.forget("ns/web")
    registry.forget("ns/web")  # twice is fine
    assert registry.known == {}


def test_copy_pod_is_deep() -> None:
    pod = make_pod("web")
    copied = copy_pod(pod)
    assert copied == pod
    copied["metadata"]["labels"]["x"] = "y"
    assert "x" not in pod["metadata"]["labels"]


def test_share_with_cache_points_at_the_newest_equal_objects() -> None:
    old = make_pod("web")
    new = {**make_pod("web"), "status": {"phase": "Running"}}
    new["metadata"]["resourceVersion"] = "2"
    written = StatusWrite("uid", {"phase": "Running"}, {"phase": "Running"}, "1")
    state = PodState(last_synced=old, last_write=written)
    share_with_cache(state, old, new)
    assert state.last_synced is new
    assert state.last_write is not None
    assert state.last_write.result is new["status"]
    assert state.last_write.desired is written.desired


def test_share_with_cache_keeps_what_differs() -> None:
    old = make_pod("web")
    new = make_pod("web")
    new["metadata"]["labels"] = {"app": "other"}
    new["status"] = {"phase": "Unknown"}
    written = StatusWrite("uid", {"phase": "Running"}, {"phase": "Running"}, "1")
    state = PodState(last_synced=old, last_write=written)
    share_with_cache(state, old, new)
    assert state.last_synced is old
    assert state.last_write is written
