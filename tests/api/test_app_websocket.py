"""exec/attach/port-forward over ASGI WebSockets, in-process (the app and the mock provider)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import trio
import trio.testing

from vk_trio.provider import AttachIO, NotFoundError, Pod
from vk_trio.provider.types import PodStatus

from ._support import AsgiWebSocketClient, make_app, mock_with_pod, run_websocket


async def frames_until_close(client: AsgiWebSocketClient) -> tuple[list[Any], dict[str, Any]]:
    """Messages the app sent after accepting, up to (and returning) its close message."""
    accepted = await client.next()
    assert accepted["type"] == "websocket.accept", accepted
    return await frames_after_accept(client)


async def frames_after_accept(client: AsgiWebSocketClient) -> tuple[list[Any], dict[str, Any]]:
    frames: list[Any] = []
    while True:
        message = await client.next()
        if message["type"] == "websocket.close":
            return frames, message
        assert message["type"] == "websocket.send"
        frames.append(message.get("bytes") if message.get("bytes") is not None else message["text"])


def by_channel(frames: list[bytes]) -> dict[int, bytes]:
    result: dict[int, bytes] = {}
    for frame in frames:
        result[frame[0]] = result.get(frame[0], b"") + frame[1:]
    return result


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
async def test_exec_echo_reports_success_as_json_status(protocol: str) -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    query = b"command=echo&command=hello&output=1&error=1"
    await run_websocket(app, "/exec/ns/p/app", query, ["bogus", protocol], client)
    accepted = await client.from_app.receive()
    assert accepted == {"type": "websocket.accept", "subprotocol": protocol}
    frames = []
    while (message := await client.next())["type"] != "websocket.close":
        frames.append(message["bytes"])
    assert frames[0] == b"\x01"  # the "connected" signal on stdout
    channels = by_channel(frames)
    assert channels[1] == b"hello\n"
    assert orjson.loads(channels[3]) == {"metadata": {}, "status": "Success"}
    assert message["code"] == 1000


async def test_stdin_and_stdout_over_base64_until_the_client_leaves() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    client.client_send("0" + base64.b64encode(b"from stdin\n").decode())
    query = b"command=cat&input=1&output=1&error=1"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            run_websocket, app, "/exec/ns/p/app", query, ["v4.base64.channel.k8s.io"], client
        )
        assert (await client.next())["subprotocol"] == "v4.base64.channel.k8s.io"
        assert (await client.next())["text"] == "1"  # connected: stdout, empty payload
        assert (await client.next())["text"] == "1" + base64.b64encode(b"from stdin\n").decode()
        # v4 cannot half-close stdin: cat runs until the client goes away; run_websocket then
        # returns (nothing is sent to a client that has gone).
        client.client_disconnect()
    with pytest.raises(trio.WouldBlock):
        client.from_app.receive_nowait()


async def test_exec_non_zero_exit_status() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    query = b"command=exit&command=3&output=1"
    await run_websocket(app, "/exec/ns/p/app", query, ["v4.channel.k8s.io"], client)
    frames, close = await frames_until_close(client)
    status = orjson.loads(by_channel(frames)[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert close["code"] == 1000


async def test_v5_stdin_close_signal_ends_cat() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    client.client_send(b"\x00line one\n")
    client.client_send(b"\xff\x00")  # v5 CLOSE of channel 0 (stdin)
    await run_websocket(
        app, "/exec/ns/p/app", b"command=cat&input=1&output=1", ["v5.channel.k8s.io"], client
    )
    frames, _ = await frames_until_close(client)
    channels = by_channel(frames)
    assert channels[1] == b"line one\n"
    assert orjson.loads(channels[3])["status"] == "Success"


async def test_channel_k8s_io_v1_writes_only_failure_text() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    await run_websocket(
        app, "/exec/ns/p/app", b"command=exit&command=2&output=1", ["channel.k8s.io"], client
    )
    frames, _ = await frames_until_close(client)
    assert (
        by_channel(frames)[3]
        == b"command terminated with non-zero exit code: command exited with code 2"
    )


async def test_tty_resize_reaches_the_provider() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    query = b"command=sh&tty=1&input=1&output=1"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            run_websocket, app, "/exec/ns/p/app", query, ["v4.channel.k8s.io"], client
        )
        assert (await client.next())["type"] == "websocket.accept"
        client.client_send(b'\x04{"Width":100,"Height":30}')
        # Resize events travel on their own channel: ask until the shell has seen this one.
        output = b""
        while b"100x30\r\n" not in output:
            await trio.testing.wait_all_tasks_blocked()
            client.client_send(b"\x00size\r")
            output = b""
            while not output.endswith(b"$ "):  # up to the next prompt
                output += (await client.next())["bytes"][1:]
        client.client_send(b"\x00exit 9\r")
        frames, _ = await frames_after_accept(client)
    assert orjson.loads(by_channel(frames)[3])["details"]["causes"][0]["message"] == "9"


async def test_attach_over_websocket() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    client.client_send(b"\x00hi there\n")
    client.client_send(b"\x00exit\n")
    await run_websocket(app, "/attach/ns/p/app", b"stdin=1&stdout=1", ["v4.channel.k8s.io"], client)
    frames, _ = await frames_until_close(client)
    assert by_channel(frames)[1] == b"mock container attached\nhi there\n"


async def test_unsupported_subprotocol_is_refused_before_accepting() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    await run_websocket(app, "/exec/ns/p/app", b"output=1", ["v9.channel.k8s.io"], client)
    start = await client.next()
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 400)
    body = await client.next()
    assert body["body"] == (
        b"requested protocol(s) are not supported: [v9.channel.k8s.io]; supports "
        b"[v5.channel.k8s.io v4.channel.k8s.io v4.base64.channel.k8s.io channel.k8s.io "
        b"base64.channel.k8s.io]\n"
    )


async def test_parameter_errors_answer_http_over_the_websocket_scope() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    await run_websocket(app, "/exec/ns/p/app", b"tty=1&stderr=1", ["v4.channel.k8s.io"], client)
    assert (await client.next())["status"] == 400
    assert (await client.next())["body"] == b"cannot exec with tty and stderr\n"
    client = AsgiWebSocketClient()
    await run_websocket(app, "/portForward/ns/p", b"port=abc", ["v4.channel.k8s.io"], client)
    assert (await client.next())["status"] == 400
    assert (await client.next())["body"] == (
        b'unable to parse "abc" as a port: strconv.ParseUint: parsing "abc": invalid syntax\n'
    )
    client = AsgiWebSocketClient()
    await run_websocket(app, "/portForward/ns/p", b"", ["v4.channel.k8s.io"], client)
    assert (await client.next())["status"] == 400


async def test_port_forward_over_websocket_reaches_the_echo_server() -> None:
    app = make_app(await mock_with_pod())
    client = AsgiWebSocketClient()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            run_websocket, app, "/portForward/ns/p", b"port=8080", ["v4.channel.k8s.io"], client
        )
        assert (await client.next())["subprotocol"] == "v4.channel.k8s.io"
        prefix = (8080).to_bytes(2, "little")
        assert (await client.next())["bytes"] == b"\x00" + prefix  # data channel
        assert (await client.next())["bytes"] == b"\x01" + prefix  # error channel
        client.client_send(b"\x00ping")
        assert (await client.next())["bytes"] == b"\x00ping"
        client.client_disconnect()


class Blocking:
    """exec that blocks until cancelled, recording that it was."""

    def __init__(self) -> None:
        self.cancelled = trio.Event()
        self.started = trio.Event()

    async def run_in_container(self, *args: Any) -> None:
        self.started.set()
        try:
            await trio.sleep_forever()
        finally:
            self.cancelled.set()

    async def create_pod(self, pod: Pod) -> None: ...
    async def update_pod(self, pod: Pod) -> None: ...
    async def delete_pod(self, pod: Pod) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Pod:
        raise NotFoundError(name)

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus:
        raise NotFoundError(name)

    async def get_pods(self) -> list[Pod]:
        return []


async def test_client_going_away_cancels_the_provider_call() -> None:
    provider = Blocking()
    app = make_app(provider)
    client = AsgiWebSocketClient()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            run_websocket, app, "/exec/ns/p/app", b"output=1", ["v4.channel.k8s.io"], client
        )
        await provider.started.wait()
        client.client_disconnect(1001)
        await provider.cancelled.wait()
    sent = []
    while True:
        try:
            sent.append(client.from_app.receive_nowait())
        except trio.WouldBlock:
            break
    # No status was written for a client that left.
    assert not [m for m in sent if m.get("bytes", b"")[:1] == b"\x03"]


async def test_idle_websocket_is_closed_after_the_stream_idle_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = Blocking()
    app = make_app(provider, stream_idle_timeout=30.0)
    client = AsgiWebSocketClient()
    start = trio.current_time()
    await run_websocket(app, "/exec/ns/p/app", b"output=1", ["v4.channel.k8s.io"], client)
    assert trio.current_time() - start == pytest.approx(30.0)
    assert provider.cancelled.is_set()


async def test_attach_io_shape_for_the_provider() -> None:
    seen: list[AttachIO] = []

    class Recorder(Blocking):
        async def run_in_container(self, *args: Any) -> None:
            seen.append(args[4])
            await trio.lowlevel.checkpoint()

    app = make_app(Recorder())
    client = AsgiWebSocketClient()
    await run_websocket(
        app, "/exec/ns/p/app", b"output=1&input=1&tty=1", ["v4.channel.k8s.io"], client
    )
    (io,) = seen
    assert io.tty and io.stdin is not None and io.stdout is not None
    assert io.stderr is None and io.resize is not None
