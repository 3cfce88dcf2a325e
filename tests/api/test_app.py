"""The kubelet API's ASGI app in-process: every non-streaming route, router behaviour, every
parameter error with the upstream text, provider error mapping, 501 without a capability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import trio

from vk_trio.provider import (
    ContainerLogOptions,
    CPUStats,
    InvalidInputError,
    MetricFamily,
    MetricSample,
    NodeStats,
    NotFoundError,
    Pod,
    Summary,
)
from vk_trio.provider.types import PodStatus
from vk_trio_mock import MockConfig, MockLogs, MockProvider

from ._support import NODE, asgi_http, http_client, make_app, mock_with_pod, pod


class LifecycleOnly:
    """A provider with no kubelet-API capability at all."""

    async def create_pod(self, pod: Pod) -> None: ...
    async def update_pod(self, pod: Pod) -> None: ...
    async def delete_pod(self, pod: Pod) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Pod:
        raise NotFoundError(name)

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus:
        raise NotFoundError(name)

    async def get_pods(self) -> list[Pod]:
        await trio.lowlevel.checkpoint()
        return []


class ChattyLogs(LifecycleOnly):
    """Logs that ignore ``limitBytes``, and remember the options they were asked for."""

    def __init__(self, error: Exception | None = None) -> None:
        self.options: list[ContainerLogOptions] = []
        self.error = error

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        await trio.lowlevel.checkpoint()
        if self.error is not None:
            raise self.error
        self.options.append(options)
        send, receive = trio.testing.memory_stream_one_way_pair()
        await send.send_all(b"x" * 1000)
        await send.aclose()
        return receive


class Stats(LifecycleOnly):
    def __init__(self, summary: Any = None, families: Sequence[MetricFamily] = ()) -> None:
        self.summary = summary
        self.families = families

    async def get_stats_summary(self) -> Any:
        await trio.lowlevel.checkpoint()
        if isinstance(self.summary, Exception):
            raise self.summary
        return self.summary

    async def get_metrics_resource(self) -> Sequence[MetricFamily]:
        await trio.lowlevel.checkpoint()
        if isinstance(self.summary, Exception):
            raise self.summary
        return self.families


# -- router ----------------------------------------------------------------------------------


async def test_healthz_pods_and_runningpods() -> None:
    mock = await mock_with_pod()
    listed = [pod("a"), pod("b")]
    async with http_client(make_app(mock, pods=lambda: listed)) as client:
        health = await client.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok")
        pods = await client.get("/pods")
        assert pods.headers["content-type"] == "application/json"
        assert pods.json() == {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {},
            "items": listed,
        }
        running = await client.get("/runningpods/")
        assert [p["metadata"]["name"] for p in running.json()["items"]] == ["p"]


async def test_empty_pod_lists_have_null_items_and_pods_needs_a_source() -> None:
    async with http_client(make_app(LifecycleOnly(), pods=list)) as client:
        assert (await client.get("/pods")).content == (
            b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":null}'
        )
        assert (await client.get("/runningpods/")).json()["items"] is None
    async with http_client(make_app(LifecycleOnly())) as client:
        response = await client.get("/pods")
        assert (response.status_code, response.text) == (501, "501 not implemented\n")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/pods/", "/pods"),
        ("/runningpods", "/runningpods/"),
        ("/stats/summary/", "/stats/summary"),
        ("/metrics/resource/", "/metrics/resource"),
        ("/containerLogs/ns/p/app/?tailLines=1", "/containerLogs/ns/p/app?tailLines=1"),
    ],
)
async def test_strict_slash_redirects(path: str, location: str) -> None:
    async with http_client(make_app(await mock_with_pod(), pods=list)) as client:
        response = await client.get(path)
        assert response.status_code == 301
        assert response.headers["location"] == location
        assert response.text == f'<a href="{location}">Moved Permanently</a>.\n\n'


async def test_empty_segments_redirect_to_the_clean_path() -> None:
    app = make_app(await mock_with_pod(), pods=list)
    response = await asgi_http(app, "GET", b"//pods", query=b"a=1")
    assert (response.status, response.header("location")) == (301, "/pods?a=1")
    response = await asgi_http(app, "GET", b"/containerLogs//ns/p/app")
    assert response.header("location") == "/containerLogs/ns/p/app"


async def test_unknown_paths_are_404_and_wrong_methods_405() -> None:
    async with http_client(make_app(await mock_with_pod(), pods=list)) as client:
        for path in ("/", "/nope", "/pods/extra", "/exec/ns/p", "/containerLogs/ns/p"):
            response = await client.get(path)
            assert (response.status_code, response.text) == (404, "404 request not found\n"), path
        for method, path in [("POST", "/pods"), ("PUT", "/exec/ns/p/c"), ("DELETE", "/healthz")]:
            response = await client.request(method, path)
            assert (response.status_code, response.content) == (405, b""), path
        assert (await client.head("/pods")).status_code == 405


@pytest.mark.parametrize(
    ("raw_path", "message"),
    [
        (
            b"/containerLogs/ns/../app",
            'invalid request path: "." and ".." segments are not allowed',
        ),
        (
            b"/containerLogs/ns/%2e%2e/app",
            'invalid request path: "." and ".." segments are not allowed',
        ),
        (
            b"/containerLogs/ns/./app/x",
            'invalid request path: "." and ".." segments are not allowed',
        ),
        (b"/pods%zz", 'invalid URL escape "%zz"'),
        (b"/pods%4", 'invalid URL escape "%4"'),
        (b"/containerLogs/ns/p%00/app", "invalid request path: control characters"),
        (b"/containerLogs/ns/p%0a/app", "invalid request path: control characters"),
        (b"/containerLogs/ns/%ff/app", "invalid request path: escapes do not decode to UTF-8"),
        (b"pods", "invalid request path: must start with /"),
    ],
)
async def test_path_abuse_is_400(raw_path: bytes, message: str) -> None:
    app = make_app(await mock_with_pod(), pods=list)
    response = await asgi_http(app, "GET", raw_path)
    assert (response.status, response.body.decode()) == (400, message + "\n")


async def test_escaped_names_are_decoded_before_matching() -> None:
    mock = await mock_with_pod()
    await mock.create_pod(pod("with space"))
    app = make_app(mock)
    response = await asgi_http(app, "GET", b"/containerLogs/ns/with%20space/app")
    assert response.status == 200
    assert response.body.startswith(b"mock log line 1 of ns/with space/app\n")


# -- authentication modes (the details are in test_auth) -----------------------------------


async def test_locked_mode_answers_only_healthz() -> None:
    async with http_client(make_app(await mock_with_pod(), mode="locked", pods=list)) as client:
        assert (await client.get("/healthz")).status_code == 200
        for path in ("/pods", "/nope", "/containerLogs/ns/p/app", "/stats/summary", "/exec/a/b/c"):
            response = await client.get(path)
            assert (response.status_code, response.text) == (401, "Unauthorized\n"), path


# -- /containerLogs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tailLines=x", 'could not parse "tailLines": strconv.Atoi: parsing "x": invalid syntax'),
        (
            "tailLines=1.5",
            'could not parse "tailLines": strconv.Atoi: parsing "1.5": invalid syntax',
        ),
        (
            "tailLines=99999999999999999999",
            'could not parse "tailLines": strconv.Atoi: parsing "99999999999999999999": '
            "value out of range",
        ),
        ("tailLines=-1", '"tailLines" is -1'),
        (
            "follow=yes",
            'could not parse "follow": strconv.ParseBool: parsing "yes": invalid syntax',
        ),
        (
            "limitBytes=abc",
            'could not parse "limitBytes": strconv.Atoi: parsing "abc": invalid syntax',
        ),
        ("limitBytes=0", '"limitBytes" is 0'),
        ("limitBytes=-5", '"limitBytes" is -5'),
        (
            "previous=2",
            'could not parse "previous": strconv.ParseBool: parsing "2": invalid syntax',
        ),
        (
            "sinceSeconds=%2B",
            'could not parse "sinceSeconds": strconv.Atoi: parsing "+": invalid syntax',
        ),
        ("sinceSeconds=0", '"sinceSeconds" is 0'),
        (
            "sinceTime=yesterday",
            'could not parse "sinceTime": parsing time "yesterday" as '
            '"2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
        ),
        (
            "sinceTime=2024-01-01",
            'could not parse "sinceTime": parsing time "2024-01-01" as '
            '"2006-01-02T15:04:05Z07:00": cannot parse "" as "T"',
        ),
        (
            "sinceTime=2024-13-01T00:00:00Z",
            'could not parse "sinceTime": parsing time "2024-13-01T00:00:00Z": month out of range',
        ),
        (
            "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z",
            'both "sinceSeconds" and "sinceTime" are set',
        ),
        (
            "timestamps=on",
            'could not parse "timestamps": strconv.ParseBool: parsing "on": invalid syntax',
        ),
        # Parsed in order: the first bad parameter is the one reported.
        ("timestamps=on&tailLines=-2", '"tailLines" is -2'),
        (
            "follow=x&limitBytes=0",
            'could not parse "follow": strconv.ParseBool: parsing "x": invalid syntax',
        ),
    ],
)
async def test_container_log_parameter_errors(query: str, message: str) -> None:
    async with http_client(make_app(ChattyLogs())) as client:
        response = await client.get(f"/containerLogs/ns/p/app?{query}")
        assert (response.status_code, response.text) == (400, message)


async def test_container_log_options_reach_the_provider() -> None:
    provider = ChattyLogs()
    async with http_client(make_app(provider)) as client:
        query = (
            "tailLines=3&follow=1&limitBytes=10&previous=False&sinceTime=2024-01-02T03:04:05.5%2B01:00"
            "&timestamps=T&unknown=1"
        )
        response = await client.get(f"/containerLogs/ns/p/app?{query}")
        assert response.status_code == 200
        assert response.content == b"x" * 10  # enforced here even though the provider ignores it
        # Empty values mean "not set"; only the first value of a repeated parameter counts.
        await client.get("/containerLogs/ns/p/app?tailLines=&sinceSeconds=7&sinceSeconds=x")
    first, second = provider.options
    assert first == ContainerLogOptions(
        tail_lines=3,
        follow=True,
        limit_bytes=10,
        previous=False,
        since_time=datetime(2024, 1, 2, 2, 4, 5, 500000, tzinfo=UTC),
        timestamps=True,
    )
    assert second == ContainerLogOptions(since_seconds=7)


async def test_container_logs_from_the_mock() -> None:
    mock = await mock_with_pod(MockConfig(logs=MockLogs(containers={"app": ("one", "two")})))
    async with http_client(make_app(mock)) as client:
        response = await client.get("/containerLogs/ns/p/app?tailLines=1")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text == "two\n"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError('pod "ns/p" is not known'), 404),
        (InvalidInputError("bad"), 400),
        (RuntimeError("backend down"), 500),
    ],
)
async def test_container_log_provider_errors(error: Exception, status: int) -> None:
    async with http_client(make_app(ChattyLogs(error))) as client:
        response = await client.get("/containerLogs/ns/p/app")
        assert response.status_code == status
        assert response.text == f"error getting container logs?): {error}"


async def test_routes_without_the_capability_are_501() -> None:
    async with http_client(make_app(LifecycleOnly(), pods=list)) as client:
        for path in (
            "/containerLogs/ns/p/app",
            "/stats/summary",
            "/metrics/resource",
            "/exec/ns/p/app?output=1",
            "/attach/ns/p/app?output=1",
            "/portForward/ns/p",
        ):
            response = await client.get(path)
            assert (response.status_code, response.text) == (501, "501 not implemented\n"), path


# -- stats and metrics -----------------------------------------------------------------------


async def test_stats_summary_typed_and_mapping() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    typed = Summary(
        node=NodeStats(node_name=NODE, start_time=when, cpu=CPUStats(time=when, usage_nano_cores=5))
    )
    async with http_client(make_app(Stats(typed))) as client:
        response = await client.get("/stats/summary")
        assert response.status_code == 200
        assert response.json() == typed.to_dict()
        assert response.json()["node"]["cpu"]["usageNanoCores"] == 5
    async with http_client(make_app(Stats({"node": {"nodeName": "x"}, "pods": []}))) as client:
        assert (await client.get("/stats/summary")).json() == {
            "node": {"nodeName": "x"},
            "pods": [],
        }


async def test_stats_and_metrics_provider_errors() -> None:
    async with http_client(make_app(Stats(RuntimeError("no stats")))) as client:
        for path in ("/stats/summary", "/metrics/resource"):
            response = await client.get(path)
            assert (response.status_code, response.text) == (
                500,
                "error getting status from provider: no stats",
            )


async def test_metrics_resource_text_format() -> None:
    families = [
        MetricFamily(
            name="container_cpu_usage_seconds_total",
            type="counter",
            help="Cumulative cpu time",
            samples=(
                MetricSample(
                    labels=(("container", "app"), ("namespace", "ns"), ("pod", "p")),
                    value=1.5e9,
                    timestamp_ms=1700000000000,
                ),
            ),
        ),
        MetricFamily(name="resource_scrape_error", type="gauge", samples=(MetricSample(value=0),)),
    ]
    async with http_client(make_app(Stats(families=families))) as client:
        response = await client.get("/metrics/resource")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4"
    assert response.text == (
        "# HELP container_cpu_usage_seconds_total Cumulative cpu time\n"
        "# TYPE container_cpu_usage_seconds_total counter\n"
        'container_cpu_usage_seconds_total{container="app",namespace="ns",pod="p"} 1.5e+09 '
        "1700000000000\n"
        "# TYPE resource_scrape_error gauge\n"
        "resource_scrape_error 0\n"
    )


async def test_metrics_encoding_errors_are_500() -> None:
    bad = [MetricFamily(name="bad name", type="gauge")]
    async with http_client(make_app(Stats(families=bad))) as client:
        response = await client.get("/metrics/resource")
    assert response.status_code == 500
    assert response.text == (
        "could not convert metrics to prometheus text format: invalid metric name 'bad name'"
    )


async def test_mock_stats_and_metrics() -> None:
    async with http_client(make_app(await mock_with_pod())) as client:
        summary = (await client.get("/stats/summary")).json()
        metrics = (await client.get("/metrics/resource")).text
    assert summary["node"]["nodeName"] == NODE
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["p"]
    assert "# TYPE pod_cpu_usage_seconds_total counter\n" in metrics


# -- exec/attach/port-forward over plain HTTP (the SPDY path is tested in test_frontdoor) ---


@pytest.mark.parametrize(
    ("path", "headers", "status", "message"),
    [
        (
            "/exec/ns/p/app?command=ls",
            {},
            400,
            "you must specify at least one of stdin, stdout, stderr",
        ),
        ("/exec/ns/p/app?tty=1&error=1&output=1", {}, 400, "cannot exec with tty and stderr"),
        ("/attach/ns/p/app?stdin=1&stderr=1&tty=1", {}, 400, "cannot exec with tty and stderr"),
        (
            "/exec/ns/p/app?output=1",
            {},
            400,
            # httpx sends 6 headers; Go does not count Host.
            "unable to upgrade: header X-Stream-Protocol-Version does not exist in request "
            "with 5 headers",
        ),
        (
            "/exec/ns/p/app?output=1",
            {"X-Stream-Protocol-Version": "v9.channel.k8s.io"},
            403,
            "unable to upgrade: unable to negotiate protocol: client supports "
            "[v9.channel.k8s.io], server accepts [v5.channel.k8s.io v4.channel.k8s.io "
            "v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]",
        ),
        (
            "/portForward/ns/p",
            {"X-Stream-Protocol-Version": "v4.channel.k8s.io"},
            403,
            "unable to upgrade: unable to negotiate protocol: client supports "
            "[v4.channel.k8s.io], server accepts [portforward.k8s.io]",
        ),
    ],
)
async def test_streaming_routes_refuse_before_upgrading(
    path: str, headers: dict[str, str], status: int, message: str
) -> None:
    async with http_client(make_app(await mock_with_pod())) as client:
        response = await client.post(path, headers=headers)
        assert (response.status_code, response.text) == (status, message + "\n")
        if status == 403:
            accepted = response.headers.get_list("x-accepted-stream-protocol-versions")
            assert accepted and all(value for value in accepted)


async def test_missing_upgrade_headers_print_the_request_headers_as_go_does() -> None:
    app = make_app(await mock_with_pod())
    response = await asgi_http(
        app,
        "POST",
        b"/exec/ns/p/app",
        query=b"output=1",
        headers=[
            (b"host", b"kubelet"),
            (b"x-stream-protocol-version", b"v4.channel.k8s.io"),
            (b"accept", b"*/*"),
        ],
    )
    assert response.status == 400
    assert response.body == (
        b"unable to upgrade: missing upgrade headers in request: "
        b'http.Header{"Accept":[]string{"*/*"}, '
        b'"X-Stream-Protocol-Version":[]string{"v4.channel.k8s.io"}}\n'
    )


async def test_a_spdy_upgrade_that_reaches_the_app_is_refused() -> None:
    # Only the first request of a connection can switch protocols; the front door takes those.
    async with http_client(make_app(await mock_with_pod())) as client:
        response = await client.post(
            "/exec/ns/p/app?output=1",
            headers={
                "Connection": "Upgrade",
                "Upgrade": "SPDY/3.1",
                "X-Stream-Protocol-Version": "v4.channel.k8s.io",
            },
        )
    assert response.status_code == 400
    assert response.text == (
        "unable to upgrade: a SPDY/3.1 upgrade must be the first request on its connection\n"
    )


async def test_statistics_count_routes_and_statuses() -> None:
    app = make_app(await mock_with_pod(), pods=list)
    async with http_client(app) as client:
        await client.get("/pods")
        await client.get("/pods")
        await client.get("/nope")
        await client.get("/containerLogs/ns/p/app?tailLines=x")
    stats = app.statistics()
    assert stats.by_route == {"pods": 2, "other": 1, "containerLogs": 1}
    assert stats.by_status == {200: 2, 404: 1, 400: 1}
    assert stats.streams_active == 0


async def test_lifespan_is_acknowledged() -> None:
    app = make_app(MockProvider(node_name=NODE))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return messages.pop(0)

    async def send(message: Any) -> None:
        await trio.lowlevel.checkpoint()
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValueError, match="unsupported ASGI scope type"):
        await app({"type": "telepathy"}, receive, send)


async def test_non_streaming_routes_answer_over_a_websocket_scope() -> None:
    app = make_app(await mock_with_pod(), pods=list)
    response = await asgi_http(app, "GET", b"/pods", scope_type="websocket")
    assert response.status == 200
    assert orjson.loads(response.body)["kind"] == "PodList"
    response = await asgi_http(app, "GET", b"/nope", scope_type="websocket")
    assert response.status == 404
