"""The fuzz targets: every parser that reads bytes from the network (or an operator's file).

Each target takes one input (``bytes``) and feeds it to the real parser.  The parser may reject
the input - with the one error type it documents for bad input - and nothing else: any other
exception is a crash, and an input that does not finish is a hang (the runner's alarm).  The
same targets serve the Hypothesis property tests in ``tests/fuzz`` (fast, in CI) and the long
runs of ``python -m bench fuzz`` (a million inputs and more, not in CI).

Where a parser reads a stream, the first bytes of the input choose how the rest is cut into
reads, so the fuzzer also explores every way a message can be split across ``receive`` calls.
Targets that need trio run a batch of inputs in one ``trio.run`` on a ``MockClock``: timeouts
pass in virtual time, so a protocol timer is never mistaken for a hang.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, final

import attrs
import httpx
import trio
import trio.testing

from vk_trio.api import FrontDoor, FrontDoorLimits, KubeletApp, KubeletAuth
from vk_trio.api._handoff import HypercornHandoff
from vk_trio.api.spdy import (
    SPDY3_DICTIONARY,
    FrameDecoder,
    ProtocolError,
    SpdySession,
)
from vk_trio.api.streams import channel_protocol, decode_channel_message
from vk_trio.api.streams._channels import ChannelDecodeError
from vk_trio.kube import ApiError, ConfigError, load_config
from vk_trio.kube._http11 import ProtocolError as Http11Error
from vk_trio.kube._http11 import ResponseParser
from vk_trio.kube._watch import WatchStream
from vk_trio.provider import NotFoundError, Pod, PodStatus

__all__ = ["TARGETS", "Target", "cuts"]

#: Virtual seconds an async input may take before it counts as a hang.
VIRTUAL_HANG: Final = 3600.0
#: Wall-clock seconds for targets that cannot run on a mock clock.
WALL_HANG: Final = 60.0


@final
@attrs.frozen
class Target:
    """``run(inputs)`` feeds every input to the parser; raises on the first crash or hang
    (``Finding``).  ``cost`` is a rough relative cost per input, for splitting a budget."""

    name: str
    description: str
    run: Callable[[Sequence[bytes]], None]
    cost: float = 1.0


class Finding(Exception):
    """An input made a parser fail in a way it must not (crash) or not finish (hang)."""

    def __init__(self, target: str, data: bytes, kind: str, error: BaseException) -> None:
        super().__init__(f"{target}: {kind} on {data[:80]!r}...: {error!r}")
        self.target = target
        self.data = data
        self.kind = kind
        self.error = error


def cuts(data: bytes) -> tuple[list[bytes], bytes]:
    """Split ``data``: its first byte says how many of the next bytes are read sizes (1-256
    each); the rest is the payload, cut into those reads (then one read of what is left)."""
    if not data:
        return [], b""
    count = data[0] % 8
    sizes = [b + 1 for b in data[1 : 1 + count]]
    payload = data[1 + count :]
    pieces = []
    pos = 0
    for size in sizes:
        pieces.append(payload[pos : pos + size])
        pos += size
    pieces.append(payload[pos:])
    return [p for p in pieces if p], payload


def _sync(name: str, check: Callable[[bytes], None]) -> Callable[[Sequence[bytes]], None]:
    def run(inputs: Sequence[bytes]) -> None:
        for data in inputs:
            try:
                check(data)
            except Finding:
                raise
            except Exception as exc:
                raise Finding(name, data, "crash", exc) from exc

    return run


# -- SPDY ------------------------------------------------------------------------------------


def check_spdy_frames(data: bytes) -> None:
    pieces, _ = cuts(data)
    decoder = FrameDecoder(max_control_frame_size=1 << 16, max_header_block_size=1 << 16)
    try:
        for piece in pieces:
            decoder.receive_data(piece)
    except ProtocolError:
        pass


def check_spdy_session(data: bytes) -> None:
    pieces, _ = cuts(data)
    for client_side in (False, True):
        session = SpdySession(client_side=client_side)
        try:
            for piece in pieces:
                session.receive_data(piece)
                session.data_to_send()
        except ProtocolError:
            assert session.goaway_sent, "a session error must queue GOAWAY"
        session.data_to_send()


def _compress_block(block: bytes) -> bytes:
    compressor = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    return compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)


def check_spdy_header_block(data: bytes) -> None:
    """``data`` as the (uncompressed) name/value block of a SYN_STREAM, compressed with the
    SPDY dictionary as a peer would, then decoded by a session."""
    block = _compress_block(data)
    payload = struct.pack(">IIH", 1, 0, 0) + block
    frame = struct.pack(">HHI", 0x8003, 1, len(payload) & 0xFFFFFF) + payload
    session = SpdySession(client_side=False)
    session.data_to_send()
    with contextlib.suppress(ProtocolError):
        session.receive_data(frame)
    session.data_to_send()


# -- WebSocket channels ----------------------------------------------------------------------

_CHANNEL_PROTOCOLS = [
    channel_protocol(name)
    for name in (
        "v5.channel.k8s.io",
        "v4.channel.k8s.io",
        "v4.base64.channel.k8s.io",
        "channel.k8s.io",
        "base64.channel.k8s.io",
        "",
    )
]


def check_websocket_channel(data: bytes) -> None:
    if not data:
        return
    protocol = _CHANNEL_PROTOCOLS[data[0] % len(_CHANNEL_PROTOCOLS)]
    message: bytes | str = data[1:]
    if data[0] & 0x80:
        message = data[1:].decode("utf-8", "replace")  # a text message
    with contextlib.suppress(ChannelDecodeError):
        decode_channel_message(protocol, message)


# -- the API client's HTTP/1.1 codec ---------------------------------------------------------


def check_http11_response(data: bytes) -> None:
    pieces, _ = cuts(data)
    parser = ResponseParser(head_request=bool(data[:1]) and data[0] & 0x40 == 0x40)
    try:
        for piece in pieces:
            parser.feed(piece)
            if parser.done:
                break
        if not parser.done:
            parser.feed_eof()
    except Http11Error:
        pass


# -- async targets ---------------------------------------------------------------------------


def _async(
    name: str,
    check: Callable[..., Any],
    setup: Callable[[], Any] | None = None,
    *,
    virtual_time: bool = True,
) -> Callable[[Sequence[bytes]], None]:
    """A batch in one ``trio.run``: on a ``MockClock`` unless the target waits for threads
    (the autojump would take a thread's work for a hang), then with a wall-clock bound."""
    bound = VIRTUAL_HANG if virtual_time else WALL_HANG

    async def main(inputs: Sequence[bytes]) -> None:
        state = await setup() if setup is not None else None
        try:
            await each(inputs, state)
        finally:
            close = getattr(state, "close", None)
            if close is not None:
                close()

    async def each(inputs: Sequence[bytes], state: Any) -> None:
        for data in inputs:
            try:
                with trio.fail_after(bound):
                    await (check(data, state) if setup is not None else check(data))
            except trio.TooSlowError as exc:
                raise Finding(name, data, "hang", exc) from exc
            except Finding:
                raise
            except Exception as exc:
                raise Finding(name, data, "crash", exc) from exc

    def run(inputs: Sequence[bytes]) -> None:
        if virtual_time:
            trio.run(main, inputs, clock=trio.testing.MockClock(autojump_threshold=0))
        else:
            trio.run(main, inputs)

    return run


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            await trio.lowlevel.checkpoint()
            yield piece

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def check_watch_stream(data: bytes) -> None:
    pieces, _ = cuts(data)

    async def open_response() -> httpx.Response:
        await trio.lowlevel.checkpoint()
        return httpx.Response(200, stream=_Chunks(pieces))

    watch = WatchStream(open_response, read_timeout=60.0, own_timer=True, on_close=lambda: None)
    try:
        async with watch:
            async for event in watch:
                assert isinstance(event.type, str) and isinstance(event.object, dict)
    except ApiError:
        pass


class _NoCapabilities:
    """A provider with no kubelet-API capability: every route answers without streaming."""

    async def create_pod(self, pod: Pod) -> None: ...
    async def update_pod(self, pod: Pod) -> None: ...
    async def delete_pod(self, pod: Pod) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Pod:
        raise NotFoundError(f"no pod {namespace}/{name}")

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus:
        raise NotFoundError(f"no pod {namespace}/{name}")

    async def get_pods(self) -> list[Pod]:
        await trio.lowlevel.checkpoint()
        return [{"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": []}}]


class _ErrorLog(logging.Handler):
    """Errors logged while serving an input: the front door turns every failure into one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@final
@attrs.frozen
class _FrontDoorState:
    door: FrontDoor
    errors: _ErrorLog

    def close(self) -> None:
        """Leave the process's logging as it was (the tests share it)."""
        logging.getLogger("vk_trio").removeHandler(self.errors)


async def _front_door_setup() -> _FrontDoorState:
    await trio.lowlevel.checkpoint()
    auth = KubeletAuth(node_name="vk-fuzz", client_ca=False, anonymous=True)
    app = KubeletApp(_NoCapabilities(), auth=auth, pods=lambda: [])
    door = FrontDoor(app, HypercornHandoff(app), limits=FrontDoorLimits())
    errors = _ErrorLog()
    logging.getLogger("vk_trio").addHandler(errors)
    return _FrontDoorState(door, errors)


async def check_front_door(data: bytes, state: _FrontDoorState) -> None:
    """A client sends ``data`` (in the reads the input chooses) then half-closes; the
    connection must end by itself, with nothing logged as an error."""
    door, errors = state.door, state.errors
    pieces, _ = cuts(data)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        done = trio.Event()

        async def serve() -> None:
            try:
                await door.handle(server)
            finally:
                done.set()

        async def drain() -> None:
            try:
                while await client.receive_some():
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

        nursery.start_soon(serve)
        nursery.start_soon(drain)
        try:
            for piece in pieces:
                await client.send_all(piece)
            await client.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        await done.wait()
        nursery.cancel_scope.cancel()
    await client.aclose()
    if errors.messages:
        message = errors.messages[0]
        errors.messages.clear()
        raise AssertionError(f"logged as an error: {message}")


async def check_kubeconfig(data: bytes) -> None:
    """``data`` as a kubeconfig file: a :class:`KubeConfig` or one :class:`ConfigError`.

    Inputs that name an exec credential plugin or an auth-provider are skipped: those run
    programs (or reach the network) by design, which is not parsing."""
    lowered = data.lower()
    if b"exec" in lowered or b"auth-provider" in lowered or b"command" in lowered:
        await trio.lowlevel.checkpoint()
        return
    fd, path = tempfile.mkstemp(prefix="vk-fuzz-", suffix=".kubeconfig")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        try:
            config = await load_config(path)
        except ConfigError:
            return
        assert config.server
    finally:
        os.unlink(path)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "spdy_frames",
            "SPDY/3.1 frame decoder",
            _sync("spdy_frames", check_spdy_frames),
        ),
        Target(
            "spdy_session",
            "SPDY/3.1 session state machine (both sides)",
            _sync("spdy_session", check_spdy_session),
            cost=2.0,
        ),
        Target(
            "spdy_header_block",
            "SPDY header blocks (zlib with the SPDY dictionary)",
            _sync("spdy_header_block", check_spdy_header_block),
            cost=2.0,
        ),
        Target(
            "websocket_channel",
            "WebSocket channel frames (every channel.k8s.io protocol)",
            _sync("websocket_channel", check_websocket_channel),
            cost=0.3,
        ),
        Target(
            "http11_response",
            "the API client's HTTP/1.1 response codec",
            _sync("http11_response", check_http11_response),
        ),
        Target(
            "watch_stream",
            "watch event streams (newline-delimited JSON)",
            _async("watch_stream", check_watch_stream),
            cost=3.0,
        ),
        Target(
            "front_door",
            "the kubelet port's request heads (front door, then hypercorn)",
            _async("front_door", check_front_door, _front_door_setup),
            cost=10.0,
        ),
        Target(
            "kubeconfig",
            "kubeconfig files",
            _async("kubeconfig", check_kubeconfig, virtual_time=False),
            cost=60.0,
        ),
    )
}
