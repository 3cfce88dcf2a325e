"""The API client the node's heartbeats - Lease renewals and node status - run on.

A heartbeat that waits behind other traffic is a node that goes NotReady: the kubelet gives its
heartbeats a client of their own, with no client-side rate limit and a timeout no longer than
the Lease, and so do we.  Nothing else uses this client, so no flood of other requests (pod
status writes, kubelet API reviews, events) can take its tokens or its connections; a request
cannot outlive the Lease it is meant to renew, and the client retries at most once (the Lease
controller has its own short backoff).  The node controller's watch of its own Node (which
re-registers a deleted Node at once) runs here too and holds one connection, hence three: the
watch, the Lease and the node status each have one.
"""

from __future__ import annotations

import httpx

from vk_trio.kube import KubeClient, KubeConfig, RequestObserver, RetryPolicy

__all__ = ["heartbeat_client", "heartbeat_timeout"]

#: The kubelet's node status update frequency: the heartbeat timeout never exceeds it.
_STATUS_FREQUENCY = 10.0


def heartbeat_timeout(lease_duration_seconds: float) -> float:
    """Seconds for one heartbeat request: 10 s, or a quarter of a shorter Lease."""
    return min(_STATUS_FREQUENCY, lease_duration_seconds / 4)


def heartbeat_client(
    config: KubeConfig,
    *,
    lease_duration_seconds: float = 40,
    observer: RequestObserver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> KubeClient:
    """A :class:`~vk_trio.kube.KubeClient` for heartbeats only (``async with`` it)."""
    timeout = heartbeat_timeout(lease_duration_seconds)
    return KubeClient(
        config,
        qps=None,
        timeout=timeout,
        max_connections=3,
        retry=RetryPolicy(max_attempts=2, max_retry_after=timeout),
        observer=observer,
        transport=transport,
        user_agent="vk-trio/heartbeat",
    )
