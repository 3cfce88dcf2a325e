"""Unauthenticated requests cannot expire the node's Lease (issue 13, finding 1).

In-process, with the real ``KubeletAuth``, the real ``KubeClient`` (token bucket, retries,
pool) built by the real factories, the real ``LeaseController``, and an API server played by
an ``httpx.MockTransport`` that answers reviews slowly; time is trio's ``MockClock``, so the
seconds below are virtual and the result does not depend on how loaded the machine is.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio.testing

from vk_trio.api import KubeletAuth, open_review_client
from vk_trio.api._http import HttpError, RequestHead
from vk_trio.kube import KubeClient, KubeConfig
from vk_trio.node import LeaseController, heartbeat_client

from ._support import NODE, FakeReviews

SERVER = "https://api.test"
CONFIG = KubeConfig(server=SERVER)


def head(token: str, path: str = "/pods") -> RequestHead:
    return RequestHead(
        method="GET",
        path=path,
        raw_path=path.encode(),
        headers=((b"authorization", f"Bearer {token}".encode()),),
    )


class SlowApiServer:
    """Reviews take ``review_seconds`` (and say no); Lease reads/writes and pod patches are
    instant.  Records the Lease writes' times and the most reviews ever in flight."""

    def __init__(self, review_seconds: float) -> None:
        self.review_seconds = review_seconds
        self.lease: dict[str, Any] | None = None
        self.lease_writes: list[float] = []
        self.reviews = self.reviews_in_flight = self.max_reviews_in_flight = 0
        self.patches = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith(("/tokenreviews", "/subjectaccessreviews")):
            self.reviews += 1
            self.reviews_in_flight += 1
            self.max_reviews_in_flight = max(self.max_reviews_in_flight, self.reviews_in_flight)
            try:
                await trio.sleep(self.review_seconds)
            finally:
                self.reviews_in_flight -= 1
            return httpx.Response(201, json={"status": {"authenticated": False}})
        await trio.lowlevel.checkpoint()
        if "/leases" in path:
            if request.method == "GET":
                if self.lease is None:
                    return httpx.Response(404, json={"kind": "Status", "reason": "NotFound"})
                return httpx.Response(200, json=self.lease)
            self.lease = orjson.loads(request.content)
            self.lease_writes.append(trio.current_time())
            return httpx.Response(201 if request.method == "POST" else 200, json=self.lease)
        self.patches += 1
        return httpx.Response(200, json={"kind": "Pod"})


async def _flood(auth: KubeletAuth, count: int, outcomes: list[int]) -> None:
    async def one() -> None:
        try:
            await auth.check(head(secrets.token_hex(16)))
        except HttpError as error:
            outcomes.append(error.status)
        else:
            outcomes.append(200)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)


async def test_a_token_review_flood_leaves_the_lease_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    api = SlowApiServer(review_seconds=0.02)
    transport = httpx.MockTransport(api)
    outcomes: list[int] = []
    async with (
        open_review_client(CONFIG, transport=transport) as reviews,
        heartbeat_client(CONFIG, lease_duration_seconds=40, transport=transport) as heartbeats,
        # The controllers' client, as busy as it gets: the heartbeats must not care either.
        KubeClient(CONFIG, transport=transport) as controllers,
        trio.open_nursery() as nursery,
    ):
        auth = KubeletAuth(node_name=NODE, client_ca=True, anonymous=False, client=reviews)
        lease = LeaseController(heartbeats, NODE, owner=lambda: None, duration_seconds=40)
        await nursery.start(lease.run)
        start = trio.current_time()

        async def patch_pods() -> None:
            async with trio.open_nursery() as patches:
                for n in range(3000):
                    patches.start_soon(controllers.patch, f"/api/v1/pods/{n}", {"a": 1})

        nursery.start_soon(patch_pods)
        # Two waves of 10,000 concurrent requests, each with a token never seen before.
        await _flood(auth, 10_000, outcomes)
        await trio.sleep_until(start + 20)
        await _flood(auth, 10_000, outcomes)
        await trio.sleep_until(start + 60)
        nursery.cancel_scope.cancel()
    writes = [t - start for t in api.lease_writes]
    gaps = [b - a for a, b in itertools.pairwise(writes)]
    # Renewed every 10 s throughout (a renewal took no time at all), nowhere near 40 s.
    assert len(writes) >= 6, writes
    assert max(gaps) <= 10.5, gaps
    # Reviews never exceeded the bound; whoever found it full was told to come back (429).
    stats = auth.statistics()
    assert api.max_reviews_in_flight <= 64
    assert stats.reviews_refused > 0
    assert sorted(set(outcomes)) == [401, 429]
    assert len(outcomes) == 20_000
    assert api.patches == 3000


async def test_concurrent_requests_with_one_token_share_one_review(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = _SlowReviews()
    reviews.tokens["t"] = {"username": "alice"}
    reviews.allowed.add(("alice", "get", "proxy"))
    auth = KubeletAuth(node_name=NODE, client_ca=True, anonymous=False, client=reviews)
    users: list[str] = []

    async def one() -> None:
        users.append((await auth.check(head("t"))).name)

    async with trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(one)
    assert users == ["alice"] * 100
    assert reviews.count("tokenreviews") == 1
    assert reviews.count("subjectaccessreviews") == 1
    assert auth.statistics().reviews_shared >= 99


async def test_reviews_beyond_the_bound_are_429_with_retry_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = _SlowReviews()
    auth = KubeletAuth(
        node_name=NODE, client_ca=True, anonymous=False, client=reviews, max_reviews_in_flight=4
    )
    errors: list[HttpError] = []

    async def one(n: int) -> None:
        try:
            await auth.check(head(f"token-{n}"))
        except HttpError as error:
            errors.append(error)

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(one, n)
    assert reviews.count("tokenreviews") == 4
    assert sorted(e.status for e in errors) == [401] * 4 + [429] * 16
    refused = next(e for e in errors if e.status == 429)
    assert ("retry-after", "1") in [(k.lower(), v) for k, v in refused.headers]
    assert auth.statistics().reviews_refused == 16
    assert auth.statistics().reviews_in_flight == 0


@pytest.mark.parametrize("failure", ["error", "cancelled"])
async def test_a_shared_review_that_fails_is_not_cached(
    autojump_clock: trio.testing.MockClock, failure: str
) -> None:
    reviews = _SlowReviews()
    reviews.tokens["t"] = {"username": "alice"}
    auth = KubeletAuth(node_name=NODE, client_ca=True, anonymous=False, client=reviews)
    if failure == "error":
        from vk_trio.kube import ApiError  # noqa: PLC0415

        reviews.failures.append(ApiError("no", status_code=403))
        results = []

        async def one() -> None:
            results.append(await auth.authenticate(None, "t"))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(one)
        assert results == [None] * 3  # everyone waiting for the failed review: 401
    else:
        with trio.move_on_after(0.5):  # the leader leaves mid-review
            await auth.authenticate(None, "t")
    user = await auth.authenticate(None, "t")
    assert user is not None and user.name == "alice"


class _SlowReviews(FakeReviews):
    async def create(self, path: str, body: Any) -> dict[str, Any]:
        await trio.sleep(1)
        return await super().create(path, body)
