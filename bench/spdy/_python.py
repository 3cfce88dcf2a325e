"""The Python-only SPDY measurements: codec, session and trio adapter, in one process.

Throughput is reported per CPU second of this process (both ends run in it), which is far less
sensitive to other load on a small shared machine than wall-clock time; the adapter figures also
give wall-clock MB/s for reference.
"""

from __future__ import annotations

import time
from typing import Any

import trio

from vk_trio.api.spdy import FrameDecoder, FrameEncoder, SpdySession, open_spdy_connection


def codec(total: int, size: int) -> float:
    """MB of DATA frames encoded and decoded per CPU second."""
    encoder, decoder = FrameEncoder(), FrameDecoder()
    payload = bytes(size)
    got = 0
    start = time.process_time()
    for _ in range(total // size):
        for frame in decoder.receive_data(encoder.encode_data(1, payload, False)):
            got += len(frame.data)  # type: ignore[union-attr]
    return got / (time.process_time() - start) / 1e6


def session(total: int, size: int) -> float:
    """MB per CPU second from one sans-IO session to another (no I/O at all)."""
    client, server = SpdySession(client_side=True), SpdySession(client_side=False)
    stream_id = client.open_stream([("streamtype", "data")])
    server.receive_data(client.data_to_send())
    server.send_reply(stream_id)
    client.receive_data(server.data_to_send())
    payload = bytes(size)
    got = 0
    start = time.process_time()
    for _ in range(total // size):
        client.send_data(stream_id, payload)
        for event in server.receive_data(client.data_to_send()):
            size_received = len(getattr(event, "data", b""))
            got += size_received
            server.acknowledge_received_data(stream_id, size_received)
        client.receive_data(server.data_to_send())
    return got / (time.process_time() - start) / 1e6


async def _tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listener.accept()
    await listener.aclose()
    return client, server


async def _raw_tcp(total: int, size: int) -> tuple[float, float]:
    client, server = await _tcp_pair()
    got = 0
    wall, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:

        async def drain() -> None:
            nonlocal got
            while data := await server.receive_some(256 * 1024):
                got += len(data)

        nursery.start_soon(drain)
        payload = bytes(size)
        for _ in range(total // size):
            await client.send_all(payload)
        await client.send_eof()
    await client.aclose()
    await server.aclose()
    return got / (time.process_time() - cpu) / 1e6, got / (time.perf_counter() - wall) / 1e6


async def _spdy_tcp(total: int, size: int) -> tuple[float, float]:
    client_socket, server_socket = await _tcp_pair()
    got = 0
    async with (
        open_spdy_connection(server_socket, linger=0) as server,
        open_spdy_connection(client_socket, client_side=True, linger=0) as client,
        trio.open_nursery() as nursery,
    ):
        done = trio.Event()

        async def drain() -> None:
            nonlocal got
            stream = await server.accept_stream()
            await stream.reply()
            while data := await stream.receive_some():
                got += len(data)
            done.set()

        nursery.start_soon(drain)
        stream = await client.open_stream([("streamtype", "data")])
        payload = bytes(size)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(total // size):
            await stream.send_all(payload)
        await stream.send_eof()
        await done.wait()
        cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    return got / cpu_s / 1e6, got / wall_s / 1e6


async def _round_trips(count: int) -> float:
    """Echo round trips per second of a 100-byte message on one stream (exec-like traffic)."""
    client_socket, server_socket = await _tcp_pair()
    async with (
        open_spdy_connection(server_socket, linger=0) as server,
        open_spdy_connection(client_socket, client_side=True, linger=0) as client,
        trio.open_nursery() as nursery,
    ):

        async def echo() -> None:
            stream = await server.accept_stream()
            await stream.reply()
            while data := await stream.receive_some():
                await stream.send_all(data)

        nursery.start_soon(echo)
        stream = await client.open_stream([("streamtype", "stdin")])
        message = b"x" * 100
        start = time.perf_counter()
        for _ in range(count):
            await stream.send_all(message)
            received = b""
            while len(received) < len(message):
                received += await stream.receive_some()
        elapsed = time.perf_counter() - start
        await stream.send_eof()
    return count / elapsed


def _best(reps: int, fn: Any, *args: Any) -> Any:
    results = [fn(*args) for _ in range(reps)]
    return max(results, key=lambda r: r if isinstance(r, float) else r[0])


def run(megabytes: int, round_trips: int, reps: int) -> dict[str, Any]:
    total = megabytes * 1_000_000
    raw_cpu, raw_wall = _best(reps, trio.run, _raw_tcp, total, 65536)
    spdy_cpu, spdy_wall = _best(reps, trio.run, _spdy_tcp, total, 65536)
    small_cpu, small_wall = _best(reps, trio.run, _spdy_tcp, total // 4, 16384)
    return {
        "codec_mb_per_cpu_s": _best(reps, codec, total, 256 * 1024),
        "session_mb_per_cpu_s": _best(reps, session, total, 65536),
        "raw_tcp_mb_per_cpu_s": raw_cpu,
        "raw_tcp_mb_s": raw_wall,
        "spdy_tcp_mb_per_cpu_s": spdy_cpu,
        "spdy_tcp_mb_s": spdy_wall,
        "spdy_tcp_16k_writes_mb_per_cpu_s": small_cpu,
        "spdy_tcp_16k_writes_mb_s": small_wall,
        "echo_round_trips_per_s": _best(reps, trio.run, _round_trips, round_trips),
    }
