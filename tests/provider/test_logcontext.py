"""Log fields carried by context variables across trio tasks."""

import trio
import trio.lowlevel

from vk_trio.provider import current_log_context, log_context


def test_fields_nest_and_unwind() -> None:
    assert dict(current_log_context()) == {}
    with log_context(node="vk"):
        with log_context(namespace="ns", pod="p"):
            assert dict(current_log_context()) == {"node": "vk", "namespace": "ns", "pod": "p"}
            with log_context(pod=None, pod_uid="u"):
                assert dict(current_log_context()) == {
                    "node": "vk",
                    "namespace": "ns",
                    "pod_uid": "u",
                }
        assert dict(current_log_context()) == {"node": "vk"}
    assert dict(current_log_context()) == {}


async def test_child_tasks_inherit_and_siblings_are_isolated() -> None:
    seen: dict[str, dict[str, object]] = {}

    async def worker(name: str) -> None:
        with log_context(pod=name):
            await trio.lowlevel.checkpoint()
            seen[name] = dict(current_log_context())

    with log_context(node="vk"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(worker, "a")
            nursery.start_soon(worker, "b")
    assert seen == {"a": {"node": "vk", "pod": "a"}, "b": {"node": "vk", "pod": "b"}}
