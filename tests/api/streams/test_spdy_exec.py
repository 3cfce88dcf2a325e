"""exec/attach over SPDY: our own SPDY client plays kubectl against the server side."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from tests._waits import WAIT
from vk_trio.api.spdy import RstStatus, SpdyConnection, SpdyStream, StreamResetError
from vk_trio.api.streams import (
    RemoteCommandOptions,
    RemoteCommandStreams,
    StreamCreationTimeout,
    accept_spdy_remote_command,
    parse_remote_command_options,
    status_exit_code,
    status_for_error,
)
from vk_trio.provider import ContainerExitError, TermSize

from .helpers import spdy_pair


async def _read_all(stream: SpdyStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


async def _open(client: SpdyConnection, stream_type: str) -> SpdyStream:
    return await client.open_stream([("streamType", stream_type)])


async def _echo_then_exit(streams: RemoteCommandStreams, code: int) -> None:
    assert streams.stdin is not None and streams.stdout is not None
    while data := await streams.stdin.receive_some():
        await streams.stdout.send_all(data)
    await streams.write_status(status_for_error(ContainerExitError(code) if code else None))


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
async def test_exec_echo_and_exit_code_with_json_status(protocol: str) -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True, stderr=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, protocol, options) as streams:
                assert streams.protocol == protocol
                assert streams.stderr is not None
                await streams.stderr.send_all(b"warming up\n")
                await _echo_then_exit(streams, 3)

        nursery.start_soon(serve)
        # kubectl's order: error, stdin, stdout, stderr.
        error = await _open(client, "error")
        stdin = await _open(client, "stdin")
        stdout = await _open(client, "stdout")
        stderr = await _open(client, "stderr")
        await stdin.send_all(b"hello\n")
        await stdin.send_all(b"world\n")
        await stdin.send_eof()
        assert await _read_all(stdout) == b"hello\nworld\n"
        assert await _read_all(stderr) == b"warming up\n"
        status = orjson.loads(await _read_all(error))
        assert status["reason"] == "NonZeroExitCode"
        assert status_exit_code(status) == 3


@pytest.mark.parametrize("protocol", ["v3.channel.k8s.io", "v2.channel.k8s.io"])
async def test_exec_with_text_status(protocol: str) -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, protocol, options) as streams:
                await _echo_then_exit(streams, 7)

        nursery.start_soon(serve)
        error, stdin, stdout = [await _open(client, t) for t in ("error", "stdin", "stdout")]
        await stdin.send_all(b"x")
        await stdin.send_eof()
        assert await _read_all(stdout) == b"x"
        assert await _read_all(error) == (
            b"command terminated with non-zero exit code: command exited with code 7"
        )


async def test_success_writes_nothing_for_text_protocols() -> None:
    options = RemoteCommandOptions(stdout=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, "v2.channel.k8s.io", options) as streams:
                assert streams.stdout is not None
                await streams.stdout.send_all(b"done")
                await streams.write_status(status_for_error(None))
                await streams.write_status(status_for_error(RuntimeError("ignored")))
                assert streams.status_written

        nursery.start_soon(serve)
        error, stdout = await _open(client, "error"), await _open(client, "stdout")
        assert await _read_all(stdout) == b"done"
        assert await _read_all(error) == b""


async def test_v1_resets_the_error_stream_and_half_closes_stdin() -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, "channel.k8s.io", options) as streams:
                await _echo_then_exit(streams, 1)

        nursery.start_soon(serve)
        error, stdin, stdout = [await _open(client, t) for t in ("error", "stdin", "stdout")]
        with pytest.raises(StreamResetError) as info:
            await error.receive_some()
        assert info.value.status == RstStatus.CANCEL
        assert await stdin.receive_some() == b""  # the server's half of stdin is closed...
        await stdin.send_all(b"still readable")  # ...but the client's is not
        await stdin.send_eof()
        assert await _read_all(stdout) == b"still readable"


@pytest.mark.parametrize(
    ("protocol", "resize_expected"),
    [("v5.channel.k8s.io", True), ("v3.channel.k8s.io", True), ("v2.channel.k8s.io", False)],
)
async def test_tty_with_resize(protocol: str, resize_expected: bool) -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True, tty=True)
    sizes: list[TermSize] = []
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, protocol, options) as streams:
                io = streams.attach_io()
                assert io.tty and io.stdin is streams.stdin and io.stderr is None
                if resize_expected:
                    assert io.resize is not None
                    async for size in io.resize:
                        sizes.append(size)
                else:
                    assert io.resize is None
                await _echo_then_exit(streams, 0)

        nursery.start_soon(serve)
        streams = [await _open(client, t) for t in ("error", "stdin", "stdout")]
        if resize_expected:
            resize = await _open(client, "resize")
            await resize.send_all(b'{"Width":80,"Height":24}')
            await resize.send_all(b'{"Width":120,"Height":40}\n')
            await resize.send_eof()
        await streams[1].send_eof()
        assert await _read_all(streams[2]) == b""
        status = await _read_all(streams[0])
        if protocol == "v5.channel.k8s.io":
            assert orjson.loads(status) == {"metadata": {}, "status": "Success"}
    assert sizes == ([TermSize(80, 24), TermSize(120, 40)] if resize_expected else [])


async def test_creation_timeout(autojump_clock: trio.testing.MockClock) -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(_open, client, "error")
        start = trio.current_time()
        with pytest.raises(StreamCreationTimeout, match="timed out waiting for client"):
            async with accept_spdy_remote_command(
                server, "v4.channel.k8s.io", options, creation_timeout=30
            ):
                pytest.fail("must not be reached")
        assert trio.current_time() - start == pytest.approx(30)


async def test_unexpected_and_late_streams() -> None:
    options = RemoteCommandOptions(stdout=True)
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        done = trio.Event()

        async def serve() -> None:
            async with accept_spdy_remote_command(server, "v4.channel.k8s.io", options) as streams:
                await done.wait()
                await streams.write_status(status_for_error(None))

        nursery.start_soon(serve)
        odd = await _open(client, "bogus")  # replied to, then ignored
        error, stdout = await _open(client, "error"), await _open(client, "stdout")
        with pytest.raises(StreamResetError) as info:
            await _open(client, "stdin")  # after setup: refused
        assert info.value.status == RstStatus.REFUSED_STREAM
        done.set()
        assert await _read_all(stdout) == b""
        assert orjson.loads(await _read_all(error))["status"] == "Success"
        assert await _read_all(odd) == b""


async def test_wait_closed_fires_when_the_client_goes_away() -> None:
    options = RemoteCommandOptions(stdout=True)
    client_gone = trio.Event()
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:

        async def serve() -> None:
            async with accept_spdy_remote_command(server, "v4.channel.k8s.io", options) as streams:
                with trio.fail_after(WAIT):
                    await streams.wait_closed()
                client_gone.set()

        nursery.start_soon(serve)
        await _open(client, "error")
        await _open(client, "stdout")
        await client.goaway()
        with trio.fail_after(WAIT):
            await client_gone.wait()


async def test_client_disappearing_during_setup() -> None:
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with spdy_pair() as (client, server):
        await client.open_stream([("streamType", "error")], wait_reply=False)
        await client.goaway()
        with pytest.raises(trio.BrokenResourceError):
            async with accept_spdy_remote_command(server, "v4.channel.k8s.io", options):
                pytest.fail("must not be reached")


async def test_unknown_protocol_is_refused() -> None:
    async with spdy_pair() as (_client, server):
        with pytest.raises(ValueError, match="unsupported"):
            async with accept_spdy_remote_command(
                server, "v9.channel.k8s.io", RemoteCommandOptions(stdout=True)
            ):
                pytest.fail("must not be reached")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"stdin": ["1"], "stdout": ["1"], "tty": ["1"]}, "ok"),
        ({"input": ["1"], "output": ["1"], "error": ["1"]}, "ok"),
        ({"tty": ["1"], "stderr": ["1"], "stdout": ["1"]}, "cannot exec with tty and stderr"),
        ({"tty": ["1"], "stdin": ["0"]}, "you must specify at least one of stdin, stdout, stderr"),
    ],
)
def test_option_parsing(query: dict[str, list[str]], expected: str) -> None:
    if expected == "ok":
        options = parse_remote_command_options(query)
        assert options.stdin and options.stdout
    else:
        with pytest.raises(ValueError, match=expected):
            parse_remote_command_options(query)
