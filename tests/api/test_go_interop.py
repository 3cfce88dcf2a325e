"""Interoperability with client-go, the code behind ``kubectl exec`` and ``kubectl port-forward``.

A small Go program (``interop/main.go``) runs client-go's SPDY and WebSocket executors and its
port forwarder against a minimal test front door (h11 for the upgrade request, then our SPDY
connection or trio-websocket).  Byte-level mistakes - header compression, frame flags, stream
replies, Status JSON - only show up against the real peer, so this is the decisive test.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import pytest
import trio
import trio_websocket

from tests._waits import WAIT
from vk_trio.api.spdy import open_spdy_connection
from vk_trio.api.streams import (
    PORT_FORWARD_SPDY_PROTOCOLS,
    PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL,
    REMOTE_COMMAND_WEBSOCKET_PROTOCOLS,
    PortForwardStream,
    RemoteCommandStreams,
    TrioWebSocket,
    WebSocketByteStream,
    accept_spdy_remote_command,
    negotiate_spdy_protocol,
    negotiate_websocket_subprotocol,
    open_websocket_remote_command,
    parse_remote_command_options,
    serve_spdy_port_forward,
    status_for_error,
)
from vk_trio.provider import ContainerExitError

HERE = pathlib.Path(__file__).parent / "interop"


@pytest.fixture(scope="session")
def interop_binary(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    go = shutil.which("go")
    assert go is not None, "the Go toolchain is required (make test builds the control plane)"
    target = tmp_path_factory.mktemp("interop") / "interop"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    subprocess.run([go, "build", "-o", str(target), "."], cwd=HERE, env=env, check=True)
    return target


class _Replayed(trio.abc.Stream):
    """A stream that first returns bytes already read from it (the request head)."""

    def __init__(self, prefix: bytes, stream: trio.abc.Stream) -> None:
        self._prefix = prefix
        self._stream = stream

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            await trio.lowlevel.checkpoint()
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def cat_then_exit(streams: RemoteCommandStreams, code: int) -> None:
    """A tiny command: echo stdin to stdout; with a tty, also report the first two resize
    events; then exit with ``code``."""
    assert streams.stdout is not None
    stdout = streams.stdout
    if streams.stdin is not None:
        while data := await streams.stdin.receive_some():
            await stdout.send_all(data)
    if streams.resize is not None:
        with trio.fail_after(WAIT):
            for _ in range(2):
                size = await streams.resize.receive()
                await stdout.send_all(f"[{size.width}x{size.height}]".encode())
    if streams.stderr is not None:
        await streams.stderr.send_all(b"to stderr\n")
    await streams.write_status(status_for_error(ContainerExitError(code) if code else None))


async def echo_port(stream: PortForwardStream) -> None:
    await stream.data.send_all(f"port {stream.port} says: ".encode())
    while data := await stream.data.receive_some():
        await stream.data.send_all(data)
    await stream.data.send_eof()


async def front_door(nursery: trio.Nursery, stream: trio.SocketStream) -> None:
    """Just enough of the kubelet's front door to upgrade one request."""
    conn = h11.Connection(h11.SERVER)
    head = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some()
            head += data
            conn.receive_data(data)
            continue
        break
    assert isinstance(event, h11.Request)
    target = urlsplit(event.target.decode())
    query = parse_qs(target.query)
    headers = [(k.decode().lower(), v.decode()) for k, v in event.headers]
    upgrade = next((v for k, v in headers if k == "upgrade"), "").lower()
    if upgrade == "websocket" and target.path.startswith("/portForward"):
        request = await trio_websocket.wrap_server_stream(nursery, _Replayed(head, stream))
        assert PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL in request.proposed_subprotocols
        ws = await request.accept(subprotocol=PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL)
        tunnel = WebSocketByteStream(TrioWebSocket(ws))
        async with open_spdy_connection(tunnel) as spdy:
            await serve_spdy_port_forward(spdy, echo_port)
        return
    if upgrade == "websocket":
        request = await trio_websocket.wrap_server_stream(nursery, _Replayed(head, stream))
        subprotocol = negotiate_websocket_subprotocol(
            request.proposed_subprotocols, REMOTE_COMMAND_WEBSOCKET_PROTOCOLS
        )
        assert subprotocol is not None
        ws = await request.accept(subprotocol=subprotocol or None)
        options = parse_remote_command_options(query)
        async with open_websocket_remote_command(TrioWebSocket(ws), subprotocol, options) as s:
            await cat_then_exit(s, int(query["code"][0]))
        await ws.aclose(1000)
        return
    offered = [v for k, v in headers if k == "x-stream-protocol-version"]
    port_forward = target.path.startswith("/portForward")
    protocol = negotiate_spdy_protocol(
        offered, PORT_FORWARD_SPDY_PROTOCOLS if port_forward else REMOTE_COMMAND_SPDY_DEFAULT
    )
    await stream.send_all(
        conn.send(
            h11.InformationalResponse(
                status_code=101,
                headers=[
                    ("Connection", "Upgrade"),
                    ("Upgrade", "SPDY/3.1"),
                    ("X-Stream-Protocol-Version", protocol),
                ],
            )
        )
        or b""
    )
    trailing, _ = conn.trailing_data
    async with open_spdy_connection(stream, initial_data=trailing, idle_timeout=30) as spdy:
        if port_forward:
            await serve_spdy_port_forward(spdy, echo_port)
            return
        options = parse_remote_command_options(query)
        async with accept_spdy_remote_command(spdy, protocol, options) as streams:
            await cat_then_exit(streams, int(query["code"][0]))


REMOTE_COMMAND_SPDY_DEFAULT = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)


@asynccontextmanager
async def running_server() -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        handler = partial(front_door, nursery)
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


async def run_interop(binary: pathlib.Path, *args: str, stdin: bytes = b"") -> Any:
    result = await trio.run_process(
        [str(binary), *args], stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


Runner = Callable[..., Awaitable[Any]]


@pytest.mark.parametrize(
    ("protocol", "exit_code"),
    [
        ("spdy", 3),  # client-go's default offer: v5 is negotiated
        ("v4.channel.k8s.io", 0),
        ("v3.channel.k8s.io", 42),
        ("v2.channel.k8s.io", 5),
        ("websocket", 7),  # client-go's v5 WebSocket executor
    ],
)
async def test_exec_with_client_go(
    interop_binary: pathlib.Path, protocol: str, exit_code: int
) -> None:
    async with running_server() as base:
        url = f"{base}/exec/ns/pod/c?stdin=1&stdout=1&stderr=1&code={exit_code}"
        result = await run_interop(
            interop_binary, "exec", url, protocol, "false", stdin=b"hello\nworld\n"
        )
    assert result["stdout"] == "hello\nworld\n"
    assert result["stderr"] == "to stderr\n"
    if protocol in ("v3.channel.k8s.io", "v2.channel.k8s.io") and exit_code:
        # Before v4 the exit code does not travel; the client reports the message.
        assert result["exitCode"] == -1
        assert "command terminated with non-zero exit code" in result["error"]
    else:
        assert result["exitCode"] == exit_code, result


async def test_exec_with_protocol_v1(interop_binary: pathlib.Path) -> None:
    # A v1 client never half-closes stdin (a bug of that protocol version), so the command must
    # not wait for stdin; and the error stream is reset at once, so no exit code arrives.
    async with running_server() as base:
        url = f"{base}/exec/ns/pod/c?stdout=1&stderr=1&code=9"
        result = await run_interop(interop_binary, "exec", url, "channel.k8s.io", "false")
    assert result == {"stdout": "", "stderr": "to stderr\n", "exitCode": 0}


async def test_exec_with_a_tty_and_resizes(interop_binary: pathlib.Path) -> None:
    async with running_server() as base:
        url = f"{base}/exec/ns/pod/c?stdin=1&stdout=1&tty=1&code=0"
        result = await run_interop(interop_binary, "exec", url, "spdy", "true", stdin=b"typed")
    assert result["exitCode"] == 0, result
    assert "[80x24]" in result["stdout"] and "[100x30]" in result["stdout"]
    assert "typed" in result["stdout"]


@pytest.mark.parametrize("mode", ["portforward", "portforward-ws"])
async def test_port_forward_with_client_go(interop_binary: pathlib.Path, mode: str) -> None:
    # "portforward-ws" tunnels the SPDY session in a WebSocket, as kubectl does by default
    # since Kubernetes 1.31 (and API servers pass on to kubelets with ExtendWebSocketsToKubelet).
    async with running_server() as base:
        url = f"{base}/portForward/ns/pod"
        replies = await run_interop(interop_binary, mode, url, "8080", "ping")
    assert replies == ["port 8080 says: ping", "port 8080 says: ping"]
