"""Authentication and authorization: modes, x509 identities, TokenReview, SubjectAccessReview,
the kubelet's verb/subresource mapping, cache TTLs on trio's clock, retries, 401/403/500."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from vk_trio.api import ANONYMOUS, AuthMode, KubeletAuth, PeerIdentity, User, request_attributes
from vk_trio.api._http import HttpError, RequestHead
from vk_trio.kube import ApiConnectionError, Forbidden, InternalError

from ._support import NODE, FakeReviews


def head(
    path: str = "/pods",
    method: str = "GET",
    *,
    peer: PeerIdentity | None = None,
    token: str | None = None,
) -> RequestHead:
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if token is not None:
        headers = ((b"authorization", f"Bearer {token}".encode()),)
    return RequestHead(method=method, path=path, raw_path=path.encode(), headers=headers, peer=peer)


def webhook(reviews: FakeReviews, *, anonymous: bool = False) -> KubeletAuth:
    return KubeletAuth(node_name=NODE, client_ca=True, anonymous=anonymous, client=reviews)


@pytest.mark.parametrize(
    ("method", "path", "verb", "subresource"),
    [
        ("GET", "/pods", "get", "proxy"),
        ("POST", "/exec/ns/p/c", "create", "proxy"),
        ("PUT", "/x", "update", "proxy"),
        ("PATCH", "/x", "patch", "proxy"),
        ("DELETE", "/x", "delete", "proxy"),
        ("HEAD", "/x", "", "proxy"),
        ("GET", "/stats", "get", "stats"),
        ("GET", "/stats/summary", "get", "stats"),
        ("GET", "/statsx", "get", "proxy"),
        ("GET", "/metrics/resource", "get", "metrics"),
        ("GET", "/metrics", "get", "metrics"),
        # Whole path segments only: a shared prefix is not the subresource (finding 9).
        ("GET", "/metricsfoo", "get", "proxy"),
        ("GET", "/logs", "get", "log"),
        ("GET", "/logs/x", "get", "log"),
        ("GET", "/logsx/y", "get", "proxy"),
        ("GET", "/healthz", "get", "proxy"),
        ("GET", "/containerLogs/ns/p/c", "get", "proxy"),
    ],
)
def test_request_attributes(method: str, path: str, verb: str, subresource: str) -> None:
    assert request_attributes(method, path) == (verb, subresource)


async def test_modes_and_their_start_up_lines() -> None:
    locked = KubeletAuth(node_name=NODE, client_ca=False, anonymous=False)
    assert locked.mode is AuthMode.LOCKED
    assert "LOCKED" in locked.describe() and "every request" in locked.describe()
    anonymous = KubeletAuth(node_name=NODE, client_ca=False, anonymous=True)
    assert anonymous.mode is AuthMode.ANONYMOUS
    assert "every request is allowed" in anonymous.describe()
    hook = webhook(FakeReviews())
    assert hook.mode is AuthMode.WEBHOOK
    assert f"nodes/{NODE}" in hook.describe() and "refused (401)" in hook.describe()
    assert "allowed (then authorized)" in webhook(FakeReviews(), anonymous=True).describe()
    with pytest.raises(ValueError, match="needs an API client"):
        KubeletAuth(node_name=NODE, client_ca=True, anonymous=False)


async def test_locked_and_anonymous_modes() -> None:
    locked = KubeletAuth(node_name=NODE, client_ca=False, anonymous=False)
    with pytest.raises(HttpError) as info:
        await locked.check(head("/healthz"))
    assert info.value.status == 401
    with pytest.raises(HttpError) as info:
        await locked.check(head("/pods", peer=PeerIdentity("admin")))
    assert (info.value.status, info.value.body) == (401, b"Unauthorized\n")
    anonymous = KubeletAuth(node_name=NODE, client_ca=False, anonymous=True)
    assert await anonymous.check(head("/exec/a/b/c", "POST")) == ANONYMOUS


async def test_client_certificate_identity_is_authorized_with_a_subject_access_review() -> None:
    reviews = FakeReviews()
    reviews.allowed.add(("alice", "create", "proxy"))
    auth = webhook(reviews)
    user = await auth.check(head("/exec/ns/p/c", "POST", peer=PeerIdentity("alice", ("devs",))))
    assert user == User("alice", ("devs", "system:authenticated"))
    ((path, body),) = reviews.calls
    assert path == "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    assert body == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "groups": ["devs", "system:authenticated"],
            "resourceAttributes": {
                "namespace": "",
                "verb": "create",
                "group": "",
                "version": "v1",
                "resource": "nodes",
                "subresource": "proxy",
                "name": NODE,
            },
        },
    }


async def test_denied_is_403_and_no_credentials_401() -> None:
    reviews = FakeReviews()
    auth = webhook(reviews)
    with pytest.raises(HttpError) as info:
        await auth.check(head("/stats/summary", peer=PeerIdentity("bob")))
    assert (info.value.status, info.value.body) == (403, b"Forbidden\n")
    with pytest.raises(HttpError) as info:
        await auth.check(head("/pods"))
    assert (info.value.status, info.value.body) == (401, b"Unauthorized\n")
    # /healthz on the kubelet port is authenticated as the kubelet does (probes use the
    # metrics port); an allowed caller reaches it through nodes/proxy.
    with pytest.raises(HttpError) as info:
        await auth.check(head("/healthz"))
    assert info.value.status == 401
    reviews.allowed.add(("bob", "get", "proxy"))
    assert (await auth.check(head("/healthz", peer=PeerIdentity("bob")))).name == "bob"


async def test_anonymous_requests_go_through_authorization_when_allowed() -> None:
    reviews = FakeReviews()
    reviews.allowed.add(("system:anonymous", "get", "stats"))
    auth = webhook(reviews, anonymous=True)
    assert await auth.check(head("/stats/summary")) == ANONYMOUS
    with pytest.raises(HttpError) as info:
        await auth.check(head("/pods"))
    assert info.value.status == 403


async def test_bearer_tokens_are_reviewed_and_cached_for_two_minutes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = FakeReviews()
    reviews.tokens["good"] = {
        "username": "system:serviceaccount:ns:sa",
        "uid": "u-1",
        "groups": ["system:serviceaccounts", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/pod-name": ["p"]},
    }
    reviews.allowed.add(("system:serviceaccount:ns:sa", "get", "proxy"))
    auth = webhook(reviews)
    user = await auth.check(head(token="good"))
    assert user.name == "system:serviceaccount:ns:sa"
    assert user.uid == "u-1"
    assert user.groups == ("system:serviceaccounts", "system:authenticated")
    review = reviews.calls[0][1]
    assert review["kind"] == "TokenReview" and review["spec"] == {"token": "good"}
    access = reviews.calls[1][1]["spec"]
    assert access["uid"] == "u-1"
    assert access["extra"] == {"authentication.kubernetes.io/pod-name": ["p"]}
    await trio.sleep(119)
    await auth.check(head(token="good"))
    assert reviews.count("tokenreviews") == 1
    await trio.sleep(2)
    await auth.check(head(token="good"))
    assert reviews.count("tokenreviews") == 2


async def test_rejected_tokens_are_cached_too_and_errors_are_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = FakeReviews()
    auth = webhook(reviews)
    for _ in range(3):
        with pytest.raises(HttpError) as info:
            await auth.check(head(token="bad"))
        assert info.value.status == 401
    assert reviews.count("tokenreviews") == 1
    reviews.failures.append(Forbidden("tokenreviews is forbidden"))
    with pytest.raises(HttpError) as info:
        await auth.check(head(token="other"))
    assert info.value.status == 401
    with pytest.raises(HttpError):
        await auth.check(head(token="other"))
    assert reviews.count("tokenreviews") == 3


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", "token abc", ""]
)
async def test_authorization_headers_that_are_not_bearer_tokens(authorization: str) -> None:
    reviews = FakeReviews()
    auth = webhook(reviews)
    request = RequestHead(
        method="GET",
        path="/pods",
        raw_path=b"/pods",
        headers=((b"authorization", authorization.encode()),),
    )
    with pytest.raises(HttpError) as info:
        await auth.check(request)
    assert info.value.status == 401
    assert reviews.calls == []


async def test_bearer_scheme_is_case_insensitive() -> None:
    reviews = FakeReviews()
    reviews.tokens["t"] = {"username": "u"}
    reviews.allowed.add(("u", "get", "proxy"))
    request = RequestHead(
        method="GET", path="/pods", raw_path=b"/pods", headers=((b"authorization", b"bearer t"),)
    )
    assert (await webhook(reviews).check(request)).name == "u"


async def test_certificate_wins_over_a_token() -> None:
    reviews = FakeReviews()
    reviews.allowed.add(("alice", "get", "proxy"))
    user = await webhook(reviews).check(head(peer=PeerIdentity("alice"), token="whatever"))
    assert user.name == "alice"
    assert reviews.count("tokenreviews") == 0


async def test_decisions_are_cached_five_minutes_allowed_thirty_seconds_denied(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = FakeReviews()
    reviews.allowed.add(("alice", "get", "proxy"))
    auth = webhook(reviews)
    alice, bob = PeerIdentity("alice"), PeerIdentity("bob")
    await auth.check(head(peer=alice))
    with pytest.raises(HttpError):
        await auth.check(head(peer=bob))
    assert reviews.count("subjectaccessreviews") == 2
    await trio.sleep(29)
    reviews.allowed.add(("bob", "get", "proxy"))
    with pytest.raises(HttpError):
        await auth.check(head(peer=bob))  # still the cached denial
    await trio.sleep(2)
    await auth.check(head(peer=bob))  # denial expired after 30 s
    await auth.check(head(peer=alice))
    assert reviews.count("subjectaccessreviews") == 3
    await trio.sleep(300)
    await auth.check(head(peer=alice))
    assert reviews.count("subjectaccessreviews") == 4  # re-reviewed after 5 minutes
    # A different verb or subresource is a different decision.
    with pytest.raises(HttpError):
        await auth.check(head("/stats/summary", peer=alice))


async def test_api_failures_are_retried_with_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = FakeReviews()
    reviews.allowed.add(("alice", "get", "proxy"))
    reviews.failures += [ApiConnectionError("refused"), InternalError("etcd")]
    auth = webhook(reviews)
    start = trio.current_time()
    await auth.check(head(peer=PeerIdentity("alice")))
    elapsed = trio.current_time() - start
    # 0.5 s then 0.75 s, each with up to 20 % jitter.
    assert 1.25 <= elapsed <= 1.25 * 1.2
    assert auth.statistics().review_errors == 2


async def test_authorization_errors_are_500_with_the_error_text(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reviews = FakeReviews()
    reviews.failures += [ApiConnectionError("refused")] * 5
    auth = webhook(reviews)
    with pytest.raises(HttpError) as info:
        await auth.check(head(peer=PeerIdentity("alice")))
    assert info.value.status == 500
    assert info.value.body == b"ConnectionError: refused\n"
    assert reviews.count("subjectaccessreviews") == 5
    reviews.failures.append(Forbidden("subjectaccessreviews is forbidden"))
    with pytest.raises(HttpError) as info:
        await auth.check(head(peer=PeerIdentity("carol")))
    assert info.value.status == 500
    assert reviews.count("subjectaccessreviews") == 6  # not retried
    stats = auth.statistics()
    assert (stats.access_reviews, stats.token_reviews) == (2, 0)
