"""KubeClient against httpx.MockTransport: request shapes, error mapping, retries, limits."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio.testing

from vk_trio.kube import (
    AlreadyExists,
    ApiConnectionError,
    Conflict,
    InternalError,
    Invalid,
    KubeClient,
    KubeConfig,
    NotFound,
    PatchType,
    RetryPolicy,
    TooManyRequests,
    Unauthorized,
)

Handler = Callable[[httpx.Request], httpx.Response]
SERVER = "https://api.test:6443"


def make_client(handler: Handler, **kwargs: Any) -> KubeClient:
    kwargs.setdefault("qps", None)
    kwargs.setdefault("rng", random.Random(4))
    return KubeClient(
        KubeConfig.for_server(SERVER, token="t0"),
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def status(code: int, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "code": code,
        "message": f"{reason} happened",
        **extra,
    }


def pod(name: str, rv: str = "1") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv, "uid": f"uid-{name}"},
    }


class Recorder:
    """A scripted server: answers requests from a list of responses (or callables)."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def bodies(self) -> list[Any]:
        return [orjson.loads(r.content) if r.content else None for r in self.requests]


async def test_get_sends_auth_accept_and_user_agent() -> None:
    server = Recorder(httpx.Response(200, json=pod("p")))
    async with make_client(server) as client:
        obj = await client.get("/api/v1/namespaces/ns/pods/p")
    assert obj == pod("p")
    (request,) = server.requests
    assert request.method == "GET"
    assert str(request.url) == f"{SERVER}/api/v1/namespaces/ns/pods/p"
    assert request.headers["authorization"] == "Bearer t0"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("vk-trio/")
    assert request.headers["host"] == "api.test:6443"


async def test_get_params_and_custom_user_agent() -> None:
    server = Recorder(httpx.Response(200, json={"gitVersion": "v1.37.2"}))
    async with make_client(server, user_agent="my-agent/1") as client:
        assert await client.get("/version", params={"a": "b c"}) == {"gitVersion": "v1.37.2"}
    assert server.requests[0].url.query == b"a=b%20c"
    assert server.requests[0].headers["user-agent"] == "my-agent/1"


async def test_server_path_prefix_is_kept() -> None:
    server = Recorder(httpx.Response(200, json={}))
    client = KubeClient(
        KubeConfig.for_server("https://rancher.test/k8s/clusters/c-1/"),
        transport=httpx.MockTransport(server),
    )
    async with client:
        await client.get("/api/v1/nodes")
    assert str(server.requests[0].url) == "https://rancher.test/k8s/clusters/c-1/api/v1/nodes"
    assert "authorization" not in server.requests[0].headers


async def test_list_query_parameters() -> None:
    server = Recorder(httpx.Response(200, json={"kind": "PodList", "items": []}))
    async with make_client(server) as client:
        await client.list(
            "/api/v1/pods",
            label_selector="app=x,tier in (a,b)",
            field_selector="spec.nodeName=n1",
            limit=50,
            continue_="tok/en=",
            resource_version="100",
            resource_version_match="NotOlderThan",
        )
    params = server.requests[0].url.params
    assert params["labelSelector"] == "app=x,tier in (a,b)"
    assert params["fieldSelector"] == "spec.nodeName=n1"
    assert params["limit"] == "50"
    assert params["continue"] == "tok/en="
    assert params["resourceVersion"] == "100"
    assert params["resourceVersionMatch"] == "NotOlderThan"


async def test_list_all_pages_through_continue_tokens() -> None:
    pages = {
        None: {
            "items": [pod("a"), pod("b")],
            "metadata": {"resourceVersion": "77", "continue": "c1"},
        },
        "c1": {
            "items": [pod("c"), pod("d")],
            "metadata": {"resourceVersion": "77", "continue": "c2"},
        },
        "c2": {"items": [pod("e")], "metadata": {"resourceVersion": "77"}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "2"
        return httpx.Response(200, json=pages[request.url.params.get("continue")])

    server = Recorder(handler)
    async with make_client(server) as client:
        items, rv = await client.list_all("/api/v1/pods", page_size=2, label_selector="x=y")
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c", "d", "e"]
    assert rv == "77"
    assert len(server.requests) == 3
    assert all(r.url.params["labelSelector"] == "x=y" for r in server.requests)
    assert client.statistics().requests["list"] == 3


async def test_list_all_relists_in_full_when_the_continue_token_expires() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "continue" in params:
            return httpx.Response(410, json=status(410, "Expired"))
        if "limit" in params:
            return httpx.Response(
                200,
                json={"items": [pod("a")], "metadata": {"resourceVersion": "5", "continue": "c"}},
            )
        return httpx.Response(
            200, json={"items": [pod("a"), pod("b")], "metadata": {"resourceVersion": "9"}}
        )

    async with make_client(Recorder(handler)) as client:
        items, rv = await client.list_all("/api/v1/pods", page_size=1)
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert rv == "9"


async def test_create_posts_json_and_maps_already_exists() -> None:
    server = Recorder(
        httpx.Response(201, json=pod("p")), httpx.Response(409, json=status(409, "AlreadyExists"))
    )
    async with make_client(server) as client:
        assert await client.create("/api/v1/namespaces/ns/pods", pod("p")) == pod("p")
        with pytest.raises(AlreadyExists):
            await client.create("/api/v1/namespaces/ns/pods", pod("p"), field_manager="me")
    first, second = server.requests
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/json"
    assert orjson.loads(first.content) == pod("p")
    assert second.url.params["fieldManager"] == "me"


async def test_create_is_not_retried_after_it_may_have_arrived(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Recorder(httpx.Response(503, json=status(503, "ServiceUnavailable")))
    async with make_client(server) as client:
        with pytest.raises(InternalError):
            await client.create("/api/v1/namespaces/ns/pods", pod("p"))
    assert len(server.requests) == 1
    server = Recorder(httpx.ReadError("connection reset"))
    async with make_client(server) as client:
        with pytest.raises(ApiConnectionError) as info:
            await client.create("/api/v1/namespaces/ns/pods", pod("p"))
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert len(server.requests) == 1
    assert client.statistics().failures == 1


async def test_requests_that_never_left_are_retried_for_any_verb(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Recorder(
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.Response(201, json=pod("p")),
    )
    async with make_client(server) as client:
        assert await client.create("/api/v1/namespaces/ns/pods", pod("p")) == pod("p")
        assert client.statistics().retries == 2
    assert len(server.requests) == 3


async def test_update_retried_only_with_resource_version(
    autojump_clock: trio.testing.MockClock,
) -> None:
    unavailable = httpx.Response(503, json=status(503, "ServiceUnavailable"))
    server = Recorder(unavailable, unavailable, httpx.Response(200, json=pod("p", "2")))
    async with make_client(server) as client:
        assert await client.update("/api/v1/namespaces/ns/pods/p", pod("p", "1")) == pod("p", "2")
    assert [r.method for r in server.requests] == ["PUT"] * 3
    unguarded = pod("p")
    del unguarded["metadata"]["resourceVersion"]
    server = Recorder(unavailable)
    async with make_client(server) as client:
        with pytest.raises(InternalError):
            await client.update("/api/v1/namespaces/ns/pods/p", unguarded)
    assert len(server.requests) == 1


async def test_update_conflict() -> None:
    server = Recorder(httpx.Response(409, json=status(409, "Conflict")))
    async with make_client(server) as client:
        with pytest.raises(Conflict) as info:
            await client.update("/api/v1/namespaces/ns/pods/p", pod("p", "1"))
    assert info.value.status_code == 409
    assert len(server.requests) == 1  # a conflict is an answer, not a transient failure


@pytest.mark.parametrize("patch_type", list(PatchType))
async def test_patch_content_types(patch_type: PatchType) -> None:
    server = Recorder(httpx.Response(200, json=pod("p")))
    body: Any = (
        [{"op": "replace", "path": "/status/phase", "value": "Running"}]
        if patch_type is PatchType.JSON
        else {"status": {"phase": "Running"}}
    )
    async with make_client(server) as client:
        await client.patch("/api/v1/namespaces/ns/pods/p/status", body, patch_type=patch_type)
    (request,) = server.requests
    assert request.method == "PATCH"
    assert request.headers["content-type"] == patch_type.value
    assert orjson.loads(request.content) == body
    if patch_type is PatchType.APPLY:
        assert request.url.params["fieldManager"] == "vk-trio"
    else:
        assert "fieldManager" not in request.url.params


async def test_apply_patch_options_and_raw_bodies() -> None:
    server = Recorder(httpx.Response(200, json=pod("p")))
    async with make_client(server, field_manager="default-mgr") as client:
        await client.patch(
            "/p",
            "apiVersion: v1\nkind: Pod\n",
            patch_type=PatchType.APPLY,
            field_manager="mgr",
            force=True,
        )
        await client.patch("/p", b'{"a":1}', patch_type=PatchType.APPLY)
        with pytest.raises(ValueError):
            await client.patch("/p", {}, force=True)
    first, second = server.requests
    assert first.content == b"apiVersion: v1\nkind: Pod\n"
    assert first.url.params["fieldManager"] == "mgr"
    assert first.url.params["force"] == "true"
    assert second.content == b'{"a":1}'
    assert second.url.params["fieldManager"] == "default-mgr"


async def test_patch_retry_rules(autojump_clock: trio.testing.MockClock) -> None:
    # A merge patch that may have arrived is not repeated ...
    server = Recorder(
        httpx.Response(500, json=status(500, "InternalError")), httpx.Response(200, json={})
    )
    async with make_client(server) as client:
        with pytest.raises(InternalError):
            await client.patch("/p", {"a": 1})
    assert len(server.requests) == 1
    # ... server-side apply is declarative and is.
    server = Recorder(
        httpx.Response(500, json=status(500, "InternalError")), httpx.Response(200, json={"ok": 1})
    )
    async with make_client(server) as client:
        assert await client.patch("/p", {"a": 1}, patch_type=PatchType.APPLY) == {"ok": 1}
    assert len(server.requests) == 2


async def test_delete_options_and_preconditions(autojump_clock: trio.testing.MockClock) -> None:
    unavailable = httpx.Response(503, json=status(503, "ServiceUnavailable"))
    server = Recorder(unavailable, httpx.Response(200, json=pod("p")))
    async with make_client(server) as client:
        await client.delete(
            "/api/v1/namespaces/ns/pods/p",
            grace_period_seconds=0,
            uid="u1",
            resource_version="9",
            propagation_policy="Background",
        )
    assert len(server.requests) == 2  # preconditioned: safe to repeat
    assert server.bodies()[0] == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u1", "resourceVersion": "9"},
        "propagationPolicy": "Background",
    }
    assert server.requests[0].method == "DELETE"
    server = Recorder(unavailable)
    async with make_client(server) as client:
        with pytest.raises(InternalError):
            await client.delete("/api/v1/namespaces/ns/pods/p")
    assert len(server.requests) == 1  # unconditional: could delete a namesake if repeated
    assert server.bodies()[0] == {"kind": "DeleteOptions", "apiVersion": "v1"}


async def test_not_found_and_invalid_are_raised_unretried() -> None:
    invalid = status(
        422,
        "Invalid",
        details={"causes": [{"field": "metadata.name", "reason": "FieldValueInvalid"}]},
    )
    server = Recorder(
        httpx.Response(404, json=status(404, "NotFound")), httpx.Response(422, json=invalid)
    )
    async with make_client(server) as client:
        with pytest.raises(NotFound):
            await client.get("/x")
        with pytest.raises(Invalid) as info:
            await client.create("/x", {})
    assert info.value.causes == [{"field": "metadata.name", "reason": "FieldValueInvalid"}]
    assert len(server.requests) == 2


async def test_429_honours_retry_after_for_any_verb(autojump_clock: trio.testing.MockClock) -> None:
    throttled = httpx.Response(
        429, json=status(429, "TooManyRequests"), headers={"Retry-After": "3"}
    )
    server = Recorder(throttled, throttled, httpx.Response(201, json=pod("p")))
    async with make_client(server) as client:
        start = trio.current_time()
        assert await client.create("/api/v1/namespaces/ns/pods", pod("p")) == pod("p")
        assert trio.current_time() - start == pytest.approx(6.0)
        assert client.statistics().retries == 2


async def test_429_without_retry_after_waits_a_second_and_gives_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Recorder(httpx.Response(429, json=status(429, "TooManyRequests")))
    async with make_client(server, retry=RetryPolicy(max_attempts=3)) as client:
        start = trio.current_time()
        with pytest.raises(TooManyRequests) as info:
            await client.patch("/p", {})
        assert trio.current_time() - start == pytest.approx(2.0)
    assert info.value.retry_after is None
    assert len(server.requests) == 3


async def test_retry_after_is_capped(autojump_clock: trio.testing.MockClock) -> None:
    throttled = httpx.Response(429, headers={"Retry-After": "3600"})
    server = Recorder(throttled, httpx.Response(200, json={}))
    async with make_client(server, retry=RetryPolicy(max_retry_after=10.0)) as client:
        start = trio.current_time()
        await client.get("/x")
        assert trio.current_time() - start == pytest.approx(10.0)


async def test_transient_read_failures_backoff_with_jitter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = RetryPolicy(max_attempts=4, backoff_base=1.0, backoff_cap=3.0)
    server = Recorder(
        httpx.Response(502),
        httpx.ReadError("reset"),
        httpx.Response(504),
        httpx.Response(200, json={"ok": True}),
    )
    async with make_client(server, retry=policy) as client:
        start = trio.current_time()
        assert await client.get("/x") == {"ok": True}
        waited = trio.current_time() - start
    # waits are 1, 2, 3 (capped) times a jitter factor in [0.5, 1]
    assert 3.0 <= waited <= 6.0
    assert client.statistics().retries == 3
    assert client.statistics().attempts == 4


async def test_gives_up_after_max_attempts(autojump_clock: trio.testing.MockClock) -> None:
    server = Recorder(httpx.ReadTimeout("slow"))
    async with make_client(server, retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(ApiConnectionError):
            await client.get("/x")
    assert len(server.requests) == 2


class RotatingCredentials:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.refreshed = 0

    async def authorization(self) -> str | None:
        return f"Bearer {self.tokens[0]}"

    async def refresh(self, rejected: str | None) -> bool:
        self.refreshed += 1
        if len(self.tokens) > 1:
            self.tokens.pop(0)
            return True
        return False


async def test_401_refreshes_credentials_once_and_resends() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer new":
            return httpx.Response(200, json={"ok": 1})
        return httpx.Response(401, json=status(401, "Unauthorized"))

    server = Recorder(handler)
    creds = RotatingCredentials(["old", "new"])
    config = KubeConfig(server=SERVER, credentials=creds)
    async with KubeClient(config, transport=httpx.MockTransport(server), qps=None) as client:
        # Even a create: a 401 means it was not run.
        assert await client.create("/x", {}) == {"ok": 1}
        assert client.statistics().reauthentications == 1
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer old", "Bearer new"]


async def test_401_with_nothing_new_raises_unauthorized() -> None:
    server = Recorder(httpx.Response(401, json=status(401, "Unauthorized")))
    creds = RotatingCredentials(["only"])
    config = KubeConfig(server=SERVER, credentials=creds)
    async with KubeClient(config, transport=httpx.MockTransport(server), qps=None) as client:
        with pytest.raises(Unauthorized):
            await client.get("/x")
    assert creds.refreshed == 1
    assert len(server.requests) == 1


async def test_client_side_rate_limit(autojump_clock: trio.testing.MockClock) -> None:
    server = Recorder(httpx.Response(200, json={}))
    async with make_client(server, qps=10.0, burst=2) as client:
        start = trio.current_time()
        for _ in range(6):
            await client.get("/x")
        assert trio.current_time() - start == pytest.approx(0.4)
        stats = client.statistics().rate_limiter
    assert stats is not None
    assert (stats.qps, stats.burst, stats.acquired, stats.delayed) == (10.0, 2, 6, 4)


async def test_rate_limit_off_and_default_generous() -> None:
    server = Recorder(httpx.Response(200, json={}))
    async with make_client(server) as client:
        assert client.statistics().rate_limiter is None
    async with make_client(server, qps=200.0) as client:
        limiter = client.statistics().rate_limiter
        assert limiter is not None and limiter.burst == 400


async def test_closed_client_refuses_and_bad_paths() -> None:
    client = make_client(Recorder(httpx.Response(200, json={})))
    with pytest.raises(ValueError):
        await client.get("api/v1/pods")
    await client.aclose()
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.get("/x")


def test_rejects_non_http_server() -> None:
    with pytest.raises(ValueError):
        KubeClient(KubeConfig(server="ftp://x"))


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/namespaces/ns/pods/p/status",
        "/api/v1/pods?labelSelector=a%3Db&limit=5&continue=x%2Fy",
        "/api/v1/namespaces/a%2Fb/pods",
        "/apis/coordination.k8s.io/v1/leases?",
        "/odd path/with space?q=a b",  # not pre-encoded: takes httpx's parser
        "/ünïcode",
    ],
)
@pytest.mark.parametrize(
    "server", ["https://h.test:6443", "http://10.0.0.1", "https://r.test/k8s/c-1/"]
)
def test_url_factory_matches_httpx(server: str, target: str) -> None:
    from vk_trio.kube._client import _UrlFactory  # noqa: PLC0415 - internal, tested directly

    factory = _UrlFactory(server)
    fast = factory(target)
    slow = httpx.URL(server.rstrip("/") + target)
    assert str(fast) == str(slow)
    assert fast.raw_path == slow.raw_path
    assert (fast.host, fast.port, fast.scheme) == (slow.host, slow.port, slow.scheme)


def test_url_fast_path_is_in_use() -> None:
    # The client derives URLs through httpx's private ``_uri_reference`` (about 15 % of its CPU
    # per request otherwise). A self-check falls back to the public parser if httpx changes;
    # this pins that the fast path is taken with the httpx release pyproject.toml allows.
    from vk_trio.kube._client import _UrlFactory  # noqa: PLC0415 - internal, tested directly

    for server in ("https://h.test:6443", "http://10.0.0.1", "https://r.test/k8s/c-1/"):
        factory = _UrlFactory(server)
        assert factory._fast, f"httpx {httpx.__version__}: the URL fast path is off for {server}"
        url = factory("/api/v1/namespaces/ns/pods/p?limit=5")
        assert url == httpx.URL(server.rstrip("/") + "/api/v1/namespaces/ns/pods/p?limit=5")


async def test_observer_sees_every_attempt_with_verb_status_and_duration(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Recorder(
        httpx.ConnectError("refused"),
        httpx.Response(404, json=status(404, "NotFound")),
    )
    seen: list[tuple[str, int, float]] = []
    async with make_client(server, observer=lambda *args: seen.append(args)) as client:
        with pytest.raises(NotFound):
            await client.get("/api/v1/namespaces/ns/pods/p")
    assert [(verb, code) for verb, code, _ in seen] == [("GET", 0), ("GET", 404)]
    assert all(seconds >= 0 for _, _, seconds in seen)
