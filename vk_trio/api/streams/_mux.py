"""Channels of one WebSocket as trio streams.

:class:`ChannelMux` owns the reading side of a WebSocket (one task decodes messages and hands
each channel's payload to its :class:`ChannelReader`) and serializes writes (one lock, because a
WebSocket message must go out whole).  Readers buffer up to ``max_buffer`` bytes; beyond that the
reader task waits, which stops reading the WebSocket - as with SPDY, a handler that never reads
its input stalls the connection's input, not its output.

A channel nobody registered for is ignored, as upstream ignores channels it did not open.
"""

from __future__ import annotations

import logging
import operator
from collections import deque
from typing import final

import trio

from ._channels import (
    ChannelData,
    ChannelDecodeError,
    ChannelProtocol,
    CloseSignal,
    decode_channel_message,
    encode_channel_message,
)
from ._transport import WebSocketClosed, WebSocketTransport

__all__ = ["ChannelDuplex", "ChannelMux", "ChannelReader", "ChannelWriter"]

logger = logging.getLogger(__name__)


@final
class ChannelReader(trio.abc.ReceiveStream):
    """The receiving side of one channel; ``b""`` once the peer closed it or the WebSocket."""

    def __init__(self, mux: ChannelMux, channel: int) -> None:
        self._mux = mux
        self.channel = channel
        self._chunks: deque[bytes] = deque()
        self.buffered = 0
        self._eof = False
        self._closed = False
        self._lot = trio.lowlevel.ParkingLot()
        self._receiving = False

    def _feed(self, data: bytes) -> None:
        if self._closed or self._eof or not data:
            return
        self._chunks.append(data)
        self.buffered += len(data)
        self._lot.unpark_all()

    def _feed_eof(self) -> None:
        self._eof = True
        self._lot.unpark_all()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this channel")
        self._receiving = True
        try:
            await trio.lowlevel.checkpoint()
            while True:
                if self._closed:
                    raise trio.ClosedResourceError(f"channel {self.channel} is closed")
                if self._chunks:
                    first = self._chunks[0]
                    if max_bytes is None or len(first) <= max_bytes:
                        self._chunks.popleft()
                        data = first
                    else:
                        data = first[:max_bytes]
                        self._chunks[0] = first[max_bytes:]
                    self.buffered -= len(data)
                    self._mux._drained.unpark_all()
                    return data
                if self._eof:
                    return b""
                await self._lot.park()
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        self._closed = True
        self._chunks.clear()
        self.buffered = 0
        self._lot.unpark_all()
        self._mux._drained.unpark_all()
        await trio.lowlevel.checkpoint()


@final
class ChannelWriter(trio.abc.SendStream):
    """The sending side of one channel.  Closing it sends nothing (the kubelet does not signal
    the end of an output channel; the client learns it when the WebSocket closes)."""

    def __init__(self, mux: ChannelMux, channel: int) -> None:
        self._mux = mux
        self.channel = channel
        self._closed = False
        self._sending = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this channel")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()
            if self._closed:
                raise trio.ClosedResourceError(f"channel {self.channel} is closed")
            view = memoryview(data)
            size = self._mux.max_message_size
            for offset in range(0, len(view), size):
                await self._mux.send(self.channel, view[offset : offset + size])
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError(f"channel {self.channel} is closed")
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self._closed = True
        await trio.lowlevel.checkpoint()


@final
class ChannelDuplex(trio.abc.HalfCloseableStream):
    """A read-write channel (port-forward data) as one stream."""

    def __init__(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._writer.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._writer.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._writer.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self._reader.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._writer.aclose()
        await self._reader.aclose()


@final
class ChannelMux:
    """Demultiplexes one WebSocket into channels (see the module docstring)."""

    def __init__(
        self,
        transport: WebSocketTransport,
        protocol: ChannelProtocol,
        *,
        max_buffer: int = 1 << 20,
        max_message_size: int = 256 * 1024,
    ) -> None:
        self.transport = transport
        self.protocol = protocol
        self.max_message_size = max_message_size
        self._max_buffer = max_buffer
        self._readers: dict[int, ChannelReader] = {}
        self._send_lock = trio.Lock()
        self._drained = trio.lowlevel.ParkingLot()
        self.closed = trio.Event()

    def reader(self, channel: int) -> ChannelReader:
        """Register (once) and return the receiving side of ``channel``."""
        if channel in self._readers:
            raise ValueError(f"channel {channel} already has a reader")
        reader = self._readers[channel] = ChannelReader(self, channel)
        if self.closed.is_set():
            reader._feed_eof()
        return reader

    def writer(self, channel: int) -> ChannelWriter:
        return ChannelWriter(self, channel)

    async def send(self, channel: int, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` (possibly empty) as one message on ``channel``."""
        message = encode_channel_message(self.protocol, channel, data)
        async with self._send_lock:
            try:
                await self.transport.send_message(message)
            except WebSocketClosed as exc:
                raise trio.BrokenResourceError(str(exc)) from exc

    async def run_reader(self) -> None:
        """Read messages until the WebSocket closes (or sends a fatal message); then every
        reader sees EOF and :attr:`closed` is set."""
        try:
            while True:
                try:
                    message = await self.transport.receive_message()
                except WebSocketClosed:
                    return
                try:
                    decoded = decode_channel_message(self.protocol, message)
                except ChannelDecodeError as exc:
                    if exc.fatal:
                        logger.warning("WebSocket channel protocol error: %s", exc)
                        return
                    logger.info("dropping WebSocket message: %s", exc)
                    continue
                if decoded is None:
                    continue
                reader = self._readers.get(decoded.channel)
                if reader is None:
                    continue
                if isinstance(decoded, CloseSignal):
                    reader._feed_eof()
                    continue
                assert isinstance(decoded, ChannelData)
                reader._feed(decoded.data)
                while reader.buffered > self._max_buffer and not reader._closed:
                    await self._drained.park()
        finally:
            self.closed.set()
            for reader in self._readers.values():
                reader._feed_eof()
