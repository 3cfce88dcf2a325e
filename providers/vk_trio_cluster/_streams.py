"""The kubelet API of offloaded pods, through the remote API server.

* logs: ``GET pods/<name>/log`` on the remote API server, streamed as it comes (``follow``);
* exec and attach: a WebSocket on ``pods/<name>/exec|attach`` with the ``v5.channel.k8s.io``
  channel protocol (channel 0 stdin, 1 stdout, 2 stderr, 3 the result as a ``Status``, 4 terminal
  resizes, 255 "close my stdin"); the remote API server carries it on to its kubelet;
* port-forward: one WebSocket on ``pods/<name>/portforward?ports=<p>`` per forwarded connection
  (``v4.channel.k8s.io``: channel 0 data, 1 errors, each opened by a 2-byte port prefix);
* stats: the remote nodes' ``/stats/summary`` and ``/metrics/resource`` through the API server's
  node proxy, filtered to our pods and renamed to their home names.

Everything speaks through our own clients (the ``vk_trio.kube`` HTTP transport, trio-websocket);
no ``kubernetes`` package code is on these paths.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, final
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import trio
import trio_websocket

from vk_trio.kube import (
    STREAM_EXTENSION,
    ApiError,
    HTTP11Transport,
    KubeConfig,
    error_from_status,
)
from vk_trio.provider import (
    AttachIO,
    ContainerExitError,
    ContainerLogOptions,
    InvalidInputError,
    MetricFamily,
    MetricSample,
    NotFoundError,
    TermSize,
)

__all__ = ["RemoteStreams"]

logger = logging.getLogger("vk_trio_cluster.streams")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
EXEC_PROTOCOL: Final = "v5.channel.k8s.io"
PORT_FORWARD_PROTOCOL: Final = "v4.channel.k8s.io"

RemoteName = Callable[[str, str], tuple[str, str]]
OffloadedPod = tuple[Mapping[str, Any], tuple[str, str, str]]
"""A remote pod of this node and its home pod's ``(namespace, name, uid)``."""


def _format_time(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def log_query(container: str, options: ContainerLogOptions) -> dict[str, str]:
    """The remote ``log`` query for ``kubectl logs`` options."""
    query = {"container": container}
    if options.follow:
        query["follow"] = "true"
    if options.previous:
        query["previous"] = "true"
    if options.timestamps:
        query["timestamps"] = "true"
    if options.tail_lines is not None:
        query["tailLines"] = str(options.tail_lines)
    if options.limit_bytes is not None:
        query["limitBytes"] = str(options.limit_bytes)
    if options.since_seconds is not None:
        query["sinceSeconds"] = str(options.since_seconds)
    if options.since_time is not None:
        query["sinceTime"] = _format_time(options.since_time)
    return query


@final
class _ResponseStream(trio.abc.ReceiveStream):
    """A streamed HTTP response body as a trio receive stream."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self._buffer = b""
        self._done = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while not self._buffer and not self._done:
            try:
                self._buffer = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
            except httpx.TransportError:
                self._done = True
        if max_bytes is None or max_bytes >= len(self._buffer):
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
        return data

    async def aclose(self) -> None:
        self._done = True
        with trio.CancelScope(shield=True):
            await self._response.aclose()


def _raise_for(status_code: int, body: bytes, what: str) -> None:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = {"message": body.decode(errors="replace").strip()}
    message = str(decoded.get("message") or f"HTTP {status_code}")
    if status_code == 404:
        raise NotFoundError(f"{what}: {message}")
    if status_code in (400, 422):
        raise InvalidInputError(message)
    raise error_from_status(
        decoded if "kind" in decoded else {"message": message, "code": status_code}
    )


@final
class RemoteStreams:
    """Logs, exec, attach, port-forward and stats of remote pods (see the module docstring)."""

    def __init__(self, config: KubeConfig, remote_name: RemoteName) -> None:
        self._config = config
        self._remote_name = remote_name
        self._transport = HTTP11Transport(
            ssl_context=config.ssl_context, tls_server_name=config.tls_server_name
        )
        parts = urlsplit(config.server)
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._secure = parts.scheme == "https"
        self._started = _format_time(datetime.now(UTC))

    async def aclose(self) -> None:
        """Close the connections of the log and stats requests."""
        with trio.CancelScope(shield=True):
            await self._transport.aclose()

    async def _headers(self) -> list[tuple[bytes, bytes]]:
        authorization = await self._config.credentials.authorization()
        return [] if authorization is None else [(b"Authorization", authorization.encode())]

    async def _get(self, path: str, *, stream: bool, what: str) -> httpx.Response:
        headers = [(b"Accept", b"*/*"), (b"User-Agent", b"vk-trio-cluster"), *await self._headers()]
        extensions: dict[str, Any] = {
            "timeout": {
                "connect": 10.0,
                "read": None if stream else 30.0,
                "write": 30.0,
                "pool": 30.0,
            }
        }
        if stream:
            extensions[STREAM_EXTENSION] = True
        if self._config.tls_server_name:
            extensions["sni_hostname"] = self._config.tls_server_name
        request = httpx.Request(
            "GET", self._config.server + path, headers=headers, extensions=extensions
        )
        response = await self._transport.handle_async_request(request)
        if response.status_code != 200:
            body = await response.aread()
            await response.aclose()
            _raise_for(response.status_code, body, what)
        return response

    async def logs(
        self, namespace: str, pod: str, container: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        remote_ns, name = self._remote_name(namespace, pod)
        query = urlencode(log_query(container, options))
        path = f"/api/v1/namespaces/{remote_ns}/pods/{name}/log?{query}"
        response = await self._get(path, stream=True, what=f"logs of {namespace}/{pod}")
        return _ResponseStream(response)

    # -- WebSockets ---------------------------------------------------------------------------

    def _open(self, path: str, protocol: str, headers: list[tuple[bytes, bytes]]) -> Any:
        context: ssl.SSLContext | bool = self._config.ssl_context or False
        return trio_websocket.open_websocket(
            self._host,
            self._port,
            self._prefix + path,
            use_ssl=context if self._secure else False,
            subprotocols=[protocol],
            extra_headers=headers,
            message_queue_size=64,
            max_message_size=16 * 1024 * 1024,
        )

    async def exec(
        self, namespace: str, pod: str, container: str, command: Sequence[str], io: AttachIO
    ) -> None:
        remote_ns, name = self._remote_name(namespace, pod)
        query = [("container", container), *(("command", part) for part in command)]
        await self._session(f"/api/v1/namespaces/{remote_ns}/pods/{name}/exec", query, io)

    async def attach(self, namespace: str, pod: str, container: str, io: AttachIO) -> None:
        remote_ns, name = self._remote_name(namespace, pod)
        await self._session(
            f"/api/v1/namespaces/{remote_ns}/pods/{name}/attach", [("container", container)], io
        )

    async def _session(self, path: str, query: list[tuple[str, str]], io: AttachIO) -> None:
        query += [
            ("stdin", "true" if io.stdin is not None else "false"),
            ("stdout", "true" if io.stdout is not None else "false"),
            ("stderr", "true" if io.stderr is not None and not io.tty else "false"),
            ("tty", "true" if io.tty else "false"),
        ]
        status: dict[str, Any] | None = None
        headers = await self._headers()
        try:
            async with (
                self._open(f"{path}?{urlencode(query)}", EXEC_PROTOCOL, headers) as ws,
                trio.open_nursery() as nursery,
            ):
                if io.stdin is not None:
                    nursery.start_soon(_pump_stdin, ws, io.stdin)
                if io.resize is not None:
                    nursery.start_soon(_pump_resize, ws, io.resize)
                status = await _read_output(ws, io)
                nursery.cancel_scope.cancel()
        except trio_websocket.HandshakeError as exc:
            _raise_handshake(exc, path)
            raise
        _check_status(status)

    async def port_forward(
        self, namespace: str, pod: str, port: int, stream: trio.abc.Stream
    ) -> None:
        remote_ns, name = self._remote_name(namespace, pod)
        path = f"/api/v1/namespaces/{remote_ns}/pods/{name}/portforward?ports={port}"
        error: list[str] = []
        headers = await self._headers()
        try:
            async with (
                self._open(path, PORT_FORWARD_PROTOCOL, headers) as ws,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(_pump_to_remote, ws, stream)
                await _pump_from_remote(ws, stream, error)
                nursery.cancel_scope.cancel()
        except trio_websocket.HandshakeError as exc:
            _raise_handshake(exc, path)
            raise
        if error:
            raise RuntimeError(error[0])

    # -- stats --------------------------------------------------------------------------------

    async def stats_summary(self, node_name: str, pods: Sequence[OffloadedPod]) -> dict[str, Any]:
        """Our pods' entries of the remote nodes' summaries, under their home names.

        A remote node whose summary cannot be had (the API server refuses to proxy to it, the
        node is down) still lists our pods on it, without usage figures: the pods are there,
        their consumption is unknown.
        """
        by_node: dict[str, list[OffloadedPod]] = {}
        for offloaded_pod in pods:
            node_of = str((offloaded_pod[0].get("spec") or {}).get("nodeName") or "")
            by_node.setdefault(node_of, []).append(offloaded_pod)
        entries: list[dict[str, Any]] = []
        for node, offloaded in sorted(by_node.items()):
            summary: dict[str, Any] = {}
            if node:
                try:
                    response = await self._get(
                        f"/api/v1/nodes/{node}/proxy/stats/summary", stream=False, what="stats"
                    )
                    summary = orjson.loads(response.content)
                except (ApiError, NotFoundError, InvalidInputError, httpx.HTTPError) as exc:
                    logger.debug("no stats summary from remote node %s: %s", node, exc)
            reported = {
                (
                    str((e.get("podRef") or {}).get("namespace")),
                    str((e.get("podRef") or {}).get("name")),
                ): e
                for e in summary.get("pods") or ()
            }
            for remote, home in offloaded:
                meta = remote.get("metadata") or {}
                found = reported.get((str(meta.get("namespace")), str(meta.get("name"))))
                item = dict(found) if found is not None else _bare_entry(remote)
                item["podRef"] = {"namespace": home[0], "name": home[1], "uid": home[2]}
                entries.append(item)
        node_entry: dict[str, Any] = {"nodeName": node_name, "startTime": self._started}
        return {"node": node_entry, "pods": entries}

    async def metrics_resource(self, pods: Sequence[OffloadedPod]) -> list[MetricFamily]:
        """Our pods' samples of the remote nodes' resource metrics, under their home names."""
        homes = {
            (str(remote["metadata"].get("namespace")), str(remote["metadata"].get("name"))): home
            for remote, home in pods
        }
        nodes = sorted({str((r.get("spec") or {}).get("nodeName") or "") for r, _ in pods} - {""})
        families: dict[str, tuple[str, list[MetricSample]]] = {}
        for node in nodes:
            try:
                response = await self._get(
                    f"/api/v1/nodes/{node}/proxy/metrics/resource", stream=False, what="metrics"
                )
            except (ApiError, NotFoundError, InvalidInputError, httpx.HTTPError) as exc:
                logger.debug("no resource metrics from remote node %s: %s", node, exc)
                continue
            for name, kind, sample in _parse_metrics(response.text):
                labels = dict(sample.labels)
                home = homes.get((labels.get("namespace", ""), labels.get("pod", "")))
                if home is None:
                    continue
                relabelled = tuple(
                    (k, home[0] if k == "namespace" else home[1] if k == "pod" else v)
                    for k, v in sample.labels
                )
                families.setdefault(name, (kind, []))[1].append(
                    MetricSample(
                        labels=relabelled, value=sample.value, timestamp_ms=sample.timestamp_ms
                    )
                )
        return [
            MetricFamily(name=name, type=kind, samples=tuple(samples))  # type: ignore[arg-type]
            for name, (kind, samples) in sorted(families.items())
        ]


def _bare_entry(remote: Mapping[str, Any]) -> dict[str, Any]:
    """A summary entry for a pod whose usage is unknown: start times only."""
    status = remote.get("status") or {}
    start = status.get("startTime") or (remote.get("metadata") or {}).get("creationTimestamp")
    containers = []
    for container in status.get("containerStatuses") or ():
        running = (container.get("state") or {}).get("running") or {}
        containers.append(
            {"name": container.get("name"), "startTime": running.get("startedAt") or start}
        )
    return {"podRef": {}, "startTime": start, "containers": containers}


def _parse_metrics(text: str) -> list[tuple[str, str, MetricSample]]:
    """Pod and container samples of a Prometheus text page (the kubelet's resource metrics)."""
    kinds: dict[str, str] = {}
    found = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                kinds[parts[2]] = parts[3]
            continue
        if not line or line.startswith("#") or "{" not in line:
            continue
        name, rest = line.split("{", 1)
        label_text, _, tail = rest.rpartition("}")
        labels = []
        for part in _split_labels(label_text):
            key, _, value = part.partition("=")
            labels.append((key.strip(), json.loads(value)))
        values = tail.split()
        if not values:
            continue
        stamp = int(values[1]) if len(values) > 1 else None
        kind = kinds.get(name, "untyped")
        if kind not in ("counter", "gauge"):
            kind = "untyped"
        found.append(
            (
                name,
                kind,
                MetricSample(labels=tuple(labels), value=float(values[0]), timestamp_ms=stamp),
            )
        )
    return found


def _split_labels(text: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == '"':
            current += char
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _raise_handshake(exc: trio_websocket.HandshakeError, path: str) -> None:
    rejected = getattr(exc, "status_code", None)
    body = getattr(exc, "body", b"") or b""
    if rejected is not None:
        _raise_for(int(rejected), bytes(body), path.split("?", maxsplit=1)[0])


async def _pump_stdin(
    ws: trio_websocket.WebSocketConnection, stdin: trio.abc.ReceiveStream
) -> None:
    while True:
        data = await stdin.receive_some(32 * 1024)
        if not data:
            await ws.send_message(bytes([CLOSE, STDIN]))
            return
        await ws.send_message(bytes([STDIN]) + bytes(data))


async def _pump_resize(
    ws: trio_websocket.WebSocketConnection, sizes: trio.MemoryReceiveChannel[TermSize]
) -> None:
    async for size in sizes:
        payload = orjson.dumps({"Width": size.width, "Height": size.height})
        await ws.send_message(bytes([RESIZE]) + payload)


async def _read_output(
    ws: trio_websocket.WebSocketConnection, io: AttachIO
) -> dict[str, Any] | None:
    while True:
        try:
            message = await ws.get_message()
        except trio_websocket.ConnectionClosed:
            return None
        if isinstance(message, str):
            message = message.encode()
        if not message:
            continue
        channel, data = message[0], message[1:]
        if channel == STDOUT and io.stdout is not None and data:
            await io.stdout.send_all(data)
        elif channel == STDERR and data:
            target = io.stderr or io.stdout
            if target is not None:
                await target.send_all(data)
        elif channel == ERROR:
            if not data:
                continue
            try:
                decoded: dict[str, Any] = orjson.loads(data)
            except orjson.JSONDecodeError:
                decoded = {"status": "Failure", "message": data.decode(errors="replace")}
            return decoded


def _check_status(status: Mapping[str, Any] | None) -> None:
    if status is None or status.get("status") == "Success":
        return
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or ():
            if cause.get("reason") == "ExitCode":
                raise ContainerExitError(int(cause.get("message") or 1))
    raise RuntimeError(str(status.get("message") or "remote command failed"))


async def _pump_to_remote(ws: trio_websocket.WebSocketConnection, stream: trio.abc.Stream) -> None:
    while True:
        data = await stream.receive_some(64 * 1024)
        if not data:
            return
        await ws.send_message(bytes([0]) + bytes(data))


async def _pump_from_remote(
    ws: trio_websocket.WebSocketConnection, stream: trio.abc.Stream, error: list[str]
) -> None:
    prefixed = {0: False, 1: False}
    while True:
        try:
            message = await ws.get_message()
        except trio_websocket.ConnectionClosed:
            break
        if isinstance(message, str):
            message = message.encode()
        if not message:
            continue
        channel, data = message[0], message[1:]
        if channel in prefixed and not prefixed[channel]:
            prefixed[channel] = True
            data = data[2:]
        if not data:
            continue
        if channel == 0:
            await stream.send_all(data)
        elif channel == 1:
            error.append(data.decode(errors="replace"))
            break
    if isinstance(stream, trio.abc.HalfCloseableStream):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_eof()
