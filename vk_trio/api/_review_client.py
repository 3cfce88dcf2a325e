"""The API client the kubelet API's TokenReviews and SubjectAccessReviews run on.

Anyone who can open a TCP connection to the kubelet port can make us review a bearer token.  On
the controllers' client those reviews would spend the controllers' rate budget (and, before the
heartbeats had a client of their own, delay Lease renewals until the node expired), so reviews
get a client of their own: a small token bucket, a small connection pool, a timeout far below
the Lease's duration, and no retries in the client (``KubeletAuth`` retries itself, a few
times, inside its bound on reviews in flight).
"""

from __future__ import annotations

import httpx

from vk_trio.kube import KubeClient, KubeConfig, RequestObserver, RetryPolicy

__all__ = ["REVIEW_CLIENT_BURST", "REVIEW_CLIENT_QPS", "open_review_client"]

#: Reviews per second (and burst) the kubelet API may ask of the API server.
REVIEW_CLIENT_QPS = 50.0
REVIEW_CLIENT_BURST = 100
#: Seconds for one review request.
REVIEW_TIMEOUT = 10.0
#: Connections to the API server for reviews.
REVIEW_CONNECTIONS = 8


def open_review_client(
    config: KubeConfig,
    *,
    observer: RequestObserver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> KubeClient:
    """A :class:`~vk_trio.kube.KubeClient` for reviews only (``async with`` it)."""
    return KubeClient(
        config,
        qps=REVIEW_CLIENT_QPS,
        burst=REVIEW_CLIENT_BURST,
        timeout=REVIEW_TIMEOUT,
        max_connections=REVIEW_CONNECTIONS,
        retry=RetryPolicy(max_attempts=1),
        observer=observer,
        transport=transport,
        user_agent="vk-trio/kubelet-api-auth",
    )
