"""The cases every provider passes: the pod lifecycle, notifications, "not found", idempotent
delete, concurrency and cancellation.  Each is an ``async`` function of a :class:`Kit`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import trio
import trio.testing

from .._protocols import PodNotifier
from ..types import Pod
from ._kit import Kit

__all__ = [
    "cancellation",
    "concurrent_pods",
    "delete_is_idempotent",
    "lifecycle",
    "not_found",
    "notifications",
]

TERMINAL = ("Succeeded", "Failed")


async def lifecycle(kit: Kit) -> None:
    """create → get/get_pod_status/get_pods → update → delete, each visible to the next."""
    provider = kit.provider
    pod = kit.pod("life")
    uid = pod["metadata"].get("uid")
    namespace, name = await kit.create_running(pod)
    got = await provider.get_pod(namespace, name)
    if uid:
        # the node compares UIDs to tell a replaced pod of the same name from the one it created
        assert got["metadata"].get("uid") == uid, "get_pod must keep the pod's metadata.uid"
    assert await kit.listed(namespace, name), "get_pods does not list a created pod"
    await kit.wait_for(
        f"get_pod_status of {namespace}/{name} to carry a phase",
        lambda: _has_phase(kit, namespace, name),
    )

    changed = kit.copy(pod)
    changed["metadata"].setdefault("labels", {})["conformance.vk-trio.io/updated"] = "yes"
    await provider.update_pod(kit.copy(changed))

    async def updated() -> bool:
        labels = (await provider.get_pod(namespace, name))["metadata"].get("labels") or {}
        return labels.get("conformance.vk-trio.io/updated") == "yes"

    # the node compares get_pod's answer with the API's pod to decide whether to update again
    await kit.wait_for(f"get_pod of {namespace}/{name} to show the labels of update_pod", updated)

    await provider.delete_pod(kit.deleting(changed))
    await kit.wait_for(
        f"pod {namespace}/{name} to be unknown after delete_pod",
        partial(_gone, kit, namespace, name),
    )
    await kit.expect_not_found("get_pod_status after delete_pod", _status_call(kit, pod))


async def notifications(kit: Kit) -> None:
    """Status arrives through the callback after create (namespace, name, status) and a
    terminal status after delete; the callback runs in the trio thread; notified objects are
    not changed afterwards."""
    assert isinstance(kit.provider, PodNotifier)
    pod = kit.pod("notify")
    namespace, name = kit.name_of(pod)
    await kit.provider.create_pod(kit.copy(pod))
    await kit.wait_notified(
        f"a notification with a status for {namespace}/{name} after create_pod",
        lambda: any(_phase(n.snapshot) for n in kit.notified(namespace, name)),
    )
    await kit.provider.delete_pod(kit.deleting(pod))
    await kit.wait_notified(
        f"a notification with phase Succeeded or Failed for {namespace}/{name} after delete_pod",
        lambda: any(_phase(n.snapshot) in TERMINAL for n in kit.notified(namespace, name)),
    )
    for entry in kit.notified(namespace, name):
        assert entry.in_trio_thread, "the notify_pods callback was called outside the trio thread"
        status = entry.snapshot.get("status")
        assert isinstance(status, dict), "a notified pod must carry its status as a dict"
    await trio.testing.wait_all_tasks_blocked()
    for entry in kit.notified(namespace, name):
        assert entry.pod == entry.snapshot, (
            "the provider changed a pod after handing it to the notify_pods callback "
            "(hand out a new object instead)"
        )


async def not_found(kit: Kit) -> None:
    """Every pod method raises NotFoundError for a pod the provider never saw (never None)."""
    pod = kit.pod("never-created")
    namespace, name = kit.name_of(pod)
    provider = kit.provider
    await kit.expect_not_found("get_pod", lambda: provider.get_pod(namespace, name))
    await kit.expect_not_found("get_pod_status", _status_call(kit, pod))
    await kit.expect_not_found("update_pod", lambda: provider.update_pod(kit.copy(pod)))
    assert not await kit.listed(namespace, name), "get_pods lists a pod never created"


async def delete_is_idempotent(kit: Kit) -> None:
    """Deleting twice, or deleting a pod never seen, returns or raises NotFoundError only."""
    pod = kit.pod("twice")
    namespace, name = await kit.create_running(pod)
    await kit.provider.delete_pod(kit.deleting(pod))
    await kit.delete_tolerating_not_found(pod, "a second delete of the same pod")
    await kit.wait_for(
        f"pod {namespace}/{name} to be unknown after two deletes",
        partial(_gone, kit, namespace, name),
    )
    stranger = kit.pod("stranger")
    await kit.delete_tolerating_not_found(stranger, "delete of a pod the provider never saw")
    assert not await kit.assert_consistent(*kit.name_of(stranger))


async def concurrent_pods(kit: Kit) -> None:
    """Many pods created, updated and deleted at once, one task per pod, as the node's workers
    do: each ends up in the state its own calls asked for."""
    pods = [kit.pod(f"many{i}") for i in range(kit.concurrency)]

    async def each(action: str) -> None:
        async with trio.open_nursery() as nursery:
            for pod in pods:
                nursery.start_soon(_act, kit, action, pod)

    await each("create")
    for namespace, name in map(kit.name_of, pods):
        await kit.wait_for(
            f"pod {namespace}/{name} to be known",
            partial(kit.known, namespace, name),
        )
    listed = {kit.name_of(p) for p in await kit.provider.get_pods()}
    missing = [name for ns, name in map(kit.name_of, pods) if (ns, name) not in listed]
    assert not missing, f"get_pods misses pods created concurrently: {missing}"
    await each("update")
    await each("delete")
    for namespace, name in map(kit.name_of, pods):
        await kit.wait_for(
            f"pod {namespace}/{name} to be gone",
            partial(_gone, kit, namespace, name),
        )


async def cancellation(kit: Kit) -> None:
    """A create or delete cancelled part-way (at its first checkpoint, or once it is blocked)
    leaves the provider consistent: the pod is either fully there or fully gone, and the next
    call for it works."""
    for when in ("at its first checkpoint", "while it is blocked"):
        pod = kit.pod("cancel-create")
        namespace, name = kit.name_of(pod)
        await _cancelled(when, kit.provider.create_pod, kit.copy(pod))
        if await kit.assert_consistent(namespace, name):
            await kit.provider.delete_pod(kit.deleting(pod))
        else:
            await kit.provider.create_pod(kit.copy(pod))
            await kit.wait_for(
                f"{namespace}/{name} created again after a cancelled create",
                partial(kit.known, namespace, name),
            )
            await kit.provider.delete_pod(kit.deleting(pod))
        await kit.wait_for(
            f"{namespace}/{name} to be gone after a cancelled create {when}",
            partial(_gone, kit, namespace, name),
        )

        pod = kit.pod("cancel-delete")
        namespace, name = await kit.create_running(pod)
        await _cancelled(when, kit.provider.delete_pod, kit.deleting(pod))
        if await kit.assert_consistent(namespace, name):
            await kit.delete_tolerating_not_found(pod, f"a delete after one cancelled {when}")
        await kit.wait_for(
            f"{namespace}/{name} to be gone after a cancelled delete {when}",
            partial(_gone, kit, namespace, name),
        )
    # and the provider still works
    pod = kit.pod("after-cancel")
    namespace, name = await kit.create_running(pod)
    await kit.provider.delete_pod(kit.deleting(pod))


# -- helpers ------------------------------------------------------------------------------------


def _phase(pod: Pod) -> str | None:
    status = pod.get("status")
    return status.get("phase") if isinstance(status, dict) else None


async def _has_phase(kit: Kit, namespace: str, name: str) -> bool:
    return bool((await kit.status_of(namespace, name)).get("phase"))


async def _gone(kit: Kit, namespace: str, name: str) -> bool:
    return not await kit.assert_consistent(namespace, name)


def _status_call(kit: Kit, pod: Pod) -> Callable[[], Awaitable[object]]:
    namespace, name = kit.name_of(pod)
    return lambda: kit.provider.get_pod_status(namespace, name)


async def _act(kit: Kit, action: str, pod: Pod) -> None:
    if action == "create":
        await kit.provider.create_pod(kit.copy(pod))
    elif action == "update":
        changed = kit.copy(pod)
        changed["metadata"].setdefault("labels", {})["conformance.vk-trio.io/updated"] = "yes"
        await kit.provider.update_pod(changed)
    else:
        await kit.provider.delete_pod(kit.deleting(pod))


async def _cancelled(when: str, method: Callable[[Pod], Awaitable[None]], pod: Pod) -> None:
    if when == "at its first checkpoint":
        with trio.CancelScope() as scope:
            scope.cancel()
            await method(pod)
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(method, pod)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
