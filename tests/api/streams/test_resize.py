"""Decoding the terminal-resize stream."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from vk_trio.api.streams import ResizeDecodeError, ResizeDecoder, pump_resize_events
from vk_trio.provider import TermSize


def test_objects_split_and_joined_across_reads() -> None:
    decoder = ResizeDecoder()
    assert decoder.feed(b'{"Width":80,') == []
    assert decoder.feed(b'"Height":24}\n{"width": 100, "HEIGHT": 30, "x": "}"}  {"Wid') == [
        TermSize(80, 24),
        TermSize(100, 30),
    ]
    assert decoder.feed(b'th": 1}') == [TermSize(1, 0)]
    assert decoder.feed(b"null") == [TermSize(0, 0)]


def test_good_values_before_a_bad_one_are_delivered() -> None:
    decoder = ResizeDecoder()
    assert decoder.feed(b'{"Width": 5}[') == [TermSize(5, 0)]
    assert decoder.failed
    with pytest.raises(ResizeDecodeError):
        decoder.feed(b'{"Width": 6}')


@pytest.mark.parametrize(
    "data", [b"[1, 2]", b'{"Width": -1}', b'{"Width": 70000}', b'{"Width": "80"}', b"{bad}", b"7"]
)
def test_anything_else_is_an_error(data: bytes) -> None:
    with pytest.raises(ResizeDecodeError):
        ResizeDecoder().feed(data)


def test_unbounded_garbage_is_refused() -> None:
    with pytest.raises(ResizeDecodeError, match="too large"):
        ResizeDecoder().feed(b'{"Width": "' + b"x" * 5000)


async def test_pump_stops_at_the_first_bad_value() -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    sizes_send, sizes_receive = trio.open_memory_channel[TermSize](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump_resize_events, receive, sizes_send)
        await send.send_all(b'{"Width": 10, "Height": 20}{"Width": true}{"Width": 1}')
        assert [size async for size in sizes_receive] == [TermSize(10, 20)]
