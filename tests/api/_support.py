"""Shared test doubles for the kubelet API tests: apps, fake review API, raw ASGI drivers, TLS."""

from __future__ import annotations

import math
import ssl
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
import trustme

from vk_trio.api import KubeletApp, KubeletAuth, PeerIdentity
from vk_trio.kube import ApiError
from vk_trio.provider import Pod, PodLifecycleHandler
from vk_trio_mock import MockConfig, MockProvider

JSON = dict[str, Any]
NODE = "vk-test"


def pod(name: str = "p", namespace: str = "ns", containers: Sequence[str] = ("app",)) -> Pod:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"nodeName": NODE, "containers": [{"name": c} for c in containers]},
    }


async def mock_with_pod(config: MockConfig | None = None) -> MockProvider:
    mock = MockProvider(node_name=NODE, config=config)
    await mock.create_pod(pod())
    return mock


class FakeReviews:
    """Answers TokenReview/SubjectAccessReview like the API server would, and records calls."""

    def __init__(self) -> None:
        self.tokens: dict[str, JSON] = {}
        self.allowed: set[tuple[str, str, str]] = set()
        self.failures: list[ApiError] = []
        self.calls: list[tuple[str, JSON]] = []

    async def create(self, path: str, body: Mapping[str, Any]) -> JSON:
        await trio.lowlevel.checkpoint()
        self.calls.append((path, dict(body)))
        if self.failures:
            raise self.failures.pop(0)
        spec = body["spec"]
        if body["kind"] == "TokenReview":
            user = self.tokens.get(spec["token"])
            if user is None:
                return {"status": {"authenticated": False}}
            return {"status": {"authenticated": True, "user": user}}
        attributes = spec["resourceAttributes"]
        key = (spec["user"], attributes["verb"], attributes["subresource"])
        return {"status": {"allowed": key in self.allowed}}

    def count(self, kind: str) -> int:
        return sum(1 for path, _ in self.calls if kind in path)


def make_app(
    provider: PodLifecycleHandler,
    *,
    mode: str = "anonymous",
    reviews: FakeReviews | None = None,
    pods: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    **options: Any,
) -> KubeletApp:
    auth = KubeletAuth(
        node_name=NODE,
        client_ca=mode.startswith("webhook"),
        anonymous=mode in ("anonymous", "webhook+anonymous"),
        client=reviews,
    )
    return KubeletApp(provider, auth=auth, pods=pods, **options)


def http_client(app: KubeletApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kubelet")


@attrs.define
class RawResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode().lower() == name.lower():
                return value.decode()
        return None


async def asgi_http(
    app: KubeletApp,
    method: str,
    raw_path: bytes,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    peer: PeerIdentity | None = None,
    scope_type: str = "http",
) -> RawResponse:
    """One request straight through the ASGI interface (no client-side path normalisation)."""
    scope: JSON = {
        "type": scope_type,
        "method": method,
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": list(headers),
        "extensions": {"tls": {"vk_trio.peer": peer}} if peer else {},
        "subprotocols": [],
    }
    sent: list[JSON] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    if scope_type == "websocket":
        messages = [{"type": "websocket.connect"}]

    async def receive() -> JSON:
        if messages:
            return messages.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        await trio.lowlevel.checkpoint()
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return RawResponse(start["status"], list(start.get("headers", [])), body)


class AsgiWebSocketClient:
    """Plays the server side of ASGI for a websocket scope: feeds the app client messages and
    collects what it sends."""

    def __init__(self) -> None:
        self._to_app_send, self._to_app_receive = trio.open_memory_channel[JSON](math.inf)
        self._from_app_send, self.from_app = trio.open_memory_channel[JSON](math.inf)
        self._to_app_send.send_nowait({"type": "websocket.connect"})

    async def receive(self) -> JSON:
        return await self._to_app_receive.receive()

    async def send(self, message: Any) -> None:
        await self._from_app_send.send(message)

    def client_send(self, data: bytes | str) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        self._to_app_send.send_nowait({"type": "websocket.receive", key: data})

    def client_disconnect(self, code: int = 1000) -> None:
        self._to_app_send.send_nowait({"type": "websocket.disconnect", "code": code})

    async def next(self) -> JSON:
        return await self.from_app.receive()


async def run_websocket(
    app: KubeletApp,
    path: str,
    query: bytes,
    subprotocols: Sequence[str],
    client: AsgiWebSocketClient,
) -> None:
    scope: JSON = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"kubelet"), (b"upgrade", b"websocket")],
        "subprotocols": list(subprotocols),
        "extensions": {"websocket.http.response": {}},
    }
    await app(scope, client.receive, client.send)


@attrs.frozen
class TlsFiles:
    """A CA, a serving certificate for 127.0.0.1, and client certificates signed by the CA."""

    ca: trustme.CA
    cert_file: str
    key_file: str
    ca_file: str
    directory: Path

    def client_context(
        self, user: str | None = None, groups: Sequence[str] = (), *, alpn: Sequence[str] = ()
    ) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if user is not None:
            cert = self.ca.issue_cert(
                f"{user}.client.test",
                common_name=user,
                organization_name=groups[0] if groups else None,
            )
            cert.configure_cert(context)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context


@contextmanager
def tls_files(directory: Path) -> Iterator[TlsFiles]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = (directory / n for n in ("server.crt", "server.key", "ca.crt"))
    server.cert_chain_pems[0].write_to_path(str(cert_file))
    server.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    yield TlsFiles(ca, str(cert_file), str(key_file), str(ca_file), directory)


Handler = Callable[..., Awaitable[None]]


# -- a client for upgraded connections ---------------------------------------------------------


async def read_response_head(stream: trio.abc.ReceiveStream) -> tuple[int, list[str], bytes]:
    """Read an HTTP/1.1 response head: ``(status, header lines, bytes after the head)``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some()
        if not chunk:
            raise EOFError(f"connection closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split(" ")[1]), lines[1:], rest


async def read_to_eof(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


def spdy_upgrade_request(
    path: str,
    protocols: Sequence[str] = ("v4.channel.k8s.io",),
    *,
    method: str = "POST",
    extra: Sequence[str] = (),
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: kubelet",
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
        *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
