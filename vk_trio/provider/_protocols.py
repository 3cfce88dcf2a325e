"""The provider protocols: what a provider implements, and what the controllers may assume.

A provider is one object.  It must implement :class:`PodLifecycleHandler`; everything else is an
optional capability, detected with ``isinstance`` (the protocols are runtime-checkable):

======================  ===========================================================================
capability              without it
======================  ===========================================================================
:class:`PodNotifier`    the node polls ``get_pod_status`` for every pod every 5 s
:class:`NodeProvider`   the node is always healthy and turns Ready once the controllers are up
:class:`NodeConfigurer` the node is registered with the default shape (no capacity, no addresses)
:class:`Runnable`       nothing runs in the background on the provider's behalf
======================  ===========================================================================

``isinstance`` only checks that the names exist; :func:`~vk_trio.provider.check_provider` checks
the shapes too (coroutine functions where the protocol is async, plain callables where it is not)
and is what the ``vk-trio`` command runs on the object a factory returns.

Concurrency contract (trio): every ``async`` method may be called from many tasks at once (one per
pod-sync worker), never concurrently *for the same pod* from the pod-sync path; ``delete_pod`` may
be called more than once for a pod.  A provider cancelled mid-call (shutdown) must leave its state
consistent; it is not called again for that pod during the shutdown.  Pods are plain dicts in the
Kubernetes JSON shape, typed as :class:`~vk_trio.provider.types.Pod`; a pod passed *in* is the
provider's to keep (the caller made a copy), and objects handed *out* (returned or notified) must
not be mutated by the provider afterwards.

"Not found" has one spelling: a pod the provider does not know is signalled by raising
:class:`~vk_trio.provider.NotFoundError` (or an exception explicitly raised from one), from every
method that takes a pod or its name: ``get_pod``, ``get_pod_status``, ``update_pod``,
``delete_pod`` and the kubelet-API capabilities.  No method returns ``None`` for it; the
conformance kit (:mod:`vk_trio.provider.testing`) fails a provider that does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import trio

from . import types as k8s
from ._status import PodStatus

__all__ = [
    "NodeCallback",
    "NodeConfigurer",
    "NodeProvider",
    "PodCallback",
    "PodLifecycleHandler",
    "PodNotifier",
    "Provider",
    "Runnable",
]

PodCallback = Callable[[k8s.Pod], None]
"""Takes a pod dict carrying the provider's latest ``status``; see :class:`PodNotifier`."""

NodeCallback = Callable[[dict[str, Any]], None]
"""Takes a Node dict; see :meth:`NodeProvider.notify_node_status`."""


@runtime_checkable
class PodLifecycleHandler(Protocol):
    """Runs pods: the one protocol every provider implements.

    Raise :class:`~vk_trio.provider.NotFoundError` for "no such pod" (never return ``None``),
    :class:`~vk_trio.provider.InvalidInputError` for a pod that can never run as given, and any
    other exception for a failure worth retrying (the controller retries with backoff, records a
    ``ProviderCreateFailed``/``ProviderUpdateFailed`` event and marks the pod ``ProviderFailed``).
    """

    async def create_pod(self, pod: k8s.Pod) -> None:
        """Start the pod.  Report its status through the notifier (or ``get_pod_status``).

        The pod's environment has been resolved (``env`` holds plain values, ``envFrom`` is empty)
        unless the operator turned resolution off.  The node only creates a pod that
        ``get_pod`` reported unknown.
        """
        ...

    async def update_pod(self, pod: k8s.Pod) -> None:
        """Apply a changed pod (labels, annotations, images, ``activeDeadlineSeconds``, ...).

        Afterwards ``get_pod`` returns the changed pod (the node compares it with the API's pod
        to decide whether another update is due).  Raise ``NotFoundError`` if the pod is unknown.
        """
        ...

    async def delete_pod(self, pod: k8s.Pod) -> None:
        """Stop the pod and forget it; afterwards report a terminal status for it.

        Called when the pod is being deleted in the API (graceful deletion: the pod still has its
        ``metadata.deletionTimestamp`` and ``deletionGracePeriodSeconds``) or is gone from the API
        while the provider still has it.  May be called again for a pod already deleted, and for
        a pod the provider never knew (a provider that keeps no state, after a restart): either
        return or raise ``NotFoundError``; the node counts both as done.
        """
        ...

    async def get_pod(self, namespace: str, name: str) -> k8s.Pod:
        """The pod as the provider has it; ``NotFoundError`` if it has none."""
        ...

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus | k8s.PodStatus:
        """The pod's current status (typed or as a dict); ``NotFoundError`` if it is unknown."""
        ...

    async def get_pods(self) -> list[k8s.Pod]:
        """Every pod the provider runs (used at start-up to delete pods the API no longer has)."""
        ...


Provider = PodLifecycleHandler
"""What a provider factory returns: an object implementing at least :class:`PodLifecycleHandler`."""


@runtime_checkable
class PodNotifier(Protocol):
    """Pushes status changes instead of being polled."""

    def notify_pods(self, callback: PodCallback) -> None:
        """Remember ``callback`` and call it with a pod dict whenever a pod's status changes.

        Called once, before any pod call.  ``callback`` is a plain function: call it from the trio
        thread (any task), it returns at once and never blocks (the controller only records the
        latest status per pod and queues the pod; many notifications for one pod collapse into one
        API write).  The pod needs ``metadata.namespace``, ``metadata.name`` and ``status``; use
        :func:`~vk_trio.provider.pod_with_status` to build it from a typed status.
        """
        ...


@runtime_checkable
class NodeProvider(Protocol):
    """Reports the node's own health and status changes."""

    async def ping(self) -> None:
        """Return if the backend is healthy, raise if not.

        Called every 10 s; while it fails the node stops renewing its Lease and status heartbeats,
        so the cluster marks the node unreachable.  The process keeps running and keeps pinging.
        """
        ...

    def notify_node_status(self, callback: NodeCallback) -> None:
        """Remember ``callback``; call it with a Node dict whenever the node's status changes.

        ``callback`` is a plain, non-blocking function like the pod one.  The node controller
        applies the dict's ``status``, ``metadata.labels`` and ``metadata.annotations`` with a
        three-way merge that keeps what other writers added.
        """
        ...


@runtime_checkable
class NodeConfigurer(Protocol):
    """Shapes the Node object before it is registered."""

    def configure_node(self, node: dict[str, Any]) -> None:
        """Edit ``node`` in place: capacity and allocatable, addresses, conditions, labels, taints,
        ``spec.providerID``, ``status.daemonEndpoints``, ``status.nodeInfo``.

        ``node`` arrives with ``metadata.name``, the standard labels (``type=virtual-kubelet``,
        ``kubernetes.io/role=agent``, ``kubernetes.io/hostname``), the provider taint (unless
        disabled), ``status.nodeInfo`` (``operatingSystem``, ``architecture``, ``kubeletVersion``)
        and default conditions; anything the provider sets replaces those.
        """
        ...


@runtime_checkable
class Runnable(Protocol):
    """Owns background work (a watch on a remote system, a cache refresher, ...)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled.  Call ``task_status.started()`` once ready to take pod calls.

        The node starts it with ``nursery.start`` before the controllers and cancels it after they
        stopped; an exception from it stops the process.
        """
        ...
