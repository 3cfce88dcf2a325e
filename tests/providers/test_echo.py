"""The echo server behind the mock's port-forward: raw bytes, and HTTP requests answered."""

from __future__ import annotations

from typing import Any

import h11
import trio
import trio.testing

from vk_trio.provider import Pod
from vk_trio_mock import MockProvider


def pod() -> Pod:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "a"}]}}


async def forward(client_script: Any) -> None:
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    client, server = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mock.port_forward, "ns", "p", 8080, server)
        await client_script(client)


async def test_raw_bytes_are_echoed_until_half_close() -> None:
    async def script(client: trio.abc.HalfCloseableStream) -> None:
        await client.send_all(b"\x00\x01binary")
        assert await client.receive_some() == b"\x00\x01binary"
        await client.send_all(b"more")
        assert await client.receive_some() == b"more"
        await client.send_eof()
        assert await client.receive_some() == b""

    async def run(client: Any) -> None:
        await script(client)

    await forward(run)


async def test_http_requests_are_answered_with_keep_alive() -> None:
    async def script(client: Any) -> None:
        conn = h11.Connection(h11.CLIENT)
        for path in (b"/first", b"/second?x=1"):
            request = h11.Request(
                method="POST", target=path, headers=[("Host", "localhost"), ("Content-Length", "4")]
            )
            await client.send_all(conn.send(request) + conn.send(h11.Data(data=b"body")))
            await client.send_all(conn.send(h11.EndOfMessage()))
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await client.receive_some())
                elif isinstance(event, h11.Response):
                    assert event.status_code == 200
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            text = body.decode()
            assert text.startswith("mock echo server, pod ns/p, port 8080\n")
            assert f"POST {path.decode()} HTTP/1.1\n" in text
            assert "host: localhost\n" in text
            assert text.endswith("\n\nbody")
            conn.start_next_cycle()
        await client.send_eof()

    await forward(script)


async def test_closing_before_sending_anything_ends_the_forward() -> None:
    async def script(client: Any) -> None:
        await client.send_eof()

    await forward(script)
