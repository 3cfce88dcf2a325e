"""The trio adapter: a :class:`SpdySession` driven over a :class:`trio.abc.Stream`.

:func:`open_spdy_connection` is an async context manager.  Inside it three background tasks run:

* the **reader** receives bytes (first the ``initial_data`` a front door already read past the
  HTTP head), feeds the session and dispatches its events to :class:`SpdyStream` objects;
* the **writer** is the only task that writes to the transport.  Everybody else - stream
  senders, ping echoes, RST_STREAMs queued by the reader - only appends to the session's outbound
  buffer and wakes it, so the reader never blocks on a write (no read/write deadlock with a peer
  that does the same) and frames leave in exactly the order the header-compression stream
  requires;
* an optional **idle watchdog** closes the connection when no frame went either way for
  ``idle_timeout`` seconds (like the kubelet's stream idle timeout), on trio's clock.

Back-pressure: ``send_all`` returns once the outbound buffer is below ``write_buffer_size``.  On
the receiving side a stream buffers at most ``max_stream_buffer`` unread bytes; beyond that the
reader stops reading the socket until the stream is drained.  That is head-of-line blocking across
the streams of one connection, the price of a peer (spdystream) that ignores flow control; it is
also what spdystream itself does.  What a peer sends can make us answer (PING echoes,
RST_STREAMs): the reader stops reading while more than ``write_buffer_size`` bytes of such
answers wait to be sent, and the session caps the control frames waiting (beyond it: GOAWAY), so
a peer that sends without ever reading cannot grow our buffer without bound.  Our own stream
data waiting does not stop the reader: both ends of an exec echoing its input would then wait
for each other.

Leaving the context sends GOAWAY, flushes, waits up to ``linger`` seconds for the peer to close
its side (closing a TCP socket with unread input makes the kernel send RST, which can destroy data
the peer has not read yet), then closes the transport.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import final

import attrs
import trio

from ._errors import ProtocolError, StreamClosedError
from ._events import (
    DataReceived,
    Event,
    GoAwayReceived,
    HeadersReceived,
    PingAcknowledged,
    StreamEnded,
    StreamOpened,
    StreamReplied,
    StreamReset,
)
from ._frames import GoAwayStatus, RstStatus
from ._session import SessionConfig, SessionStatistics, SpdySession
from ._stream import SpdyConnectionClosed, SpdyStream
from ._unwrap import unwrap_single_exception

__all__ = ["SpdyConnection", "SpdyConnectionStatistics", "open_spdy_connection"]

logger = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


@final
@attrs.frozen(kw_only=True)
class SpdyConnectionStatistics:
    """Counters of one connection (see :meth:`SpdyConnection.statistics`)."""

    bytes_received: int
    bytes_sent: int
    pending_accept: int
    closed: bool
    close_reason: str | None
    session: SessionStatistics


@final
class SpdyConnection:
    """A running SPDY connection; create it with :func:`open_spdy_connection`."""

    def __init__(
        self,
        transport: trio.abc.Stream,
        *,
        client_side: bool,
        session_config: SessionConfig | None,
        idle_timeout: float | None,
        max_stream_buffer: int,
        write_buffer_size: int,
        max_pending_streams: int,
        receive_size: int,
    ) -> None:
        self._transport = transport
        self._session = SpdySession(client_side=client_side, config=session_config)
        self._idle_timeout = idle_timeout
        self._max_stream_buffer = max_stream_buffer
        self._write_buffer_size = write_buffer_size
        self._receive_size = receive_size
        self._streams: dict[int, SpdyStream] = {}
        self._incoming_send, self._incoming_receive = trio.open_memory_channel[SpdyStream](
            max_pending_streams
        )
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._drained_lot = trio.lowlevel.ParkingLot()
        self._stream_drained_lot = trio.lowlevel.ParkingLot()
        self._in_flight = 0
        self._pings: dict[int, trio.Event] = {}
        self._closed = trio.Event()
        self._peer_done = trio.Event()
        self._close_reason: str | None = None
        # The background tasks are shielded from the caller's cancellation: when the body of
        # ``open_spdy_connection`` is cancelled, the graceful shutdown in its ``finally`` still
        # needs the writer (GOAWAY, flush) and the reader (linger).  ``_finish`` cancels them.
        self._background = trio.CancelScope(shield=True)
        self._last_activity = trio.current_time()
        self._bytes_received = 0
        self._bytes_sent = 0

    # ------------------------------------------------------------ public API

    @property
    def session(self) -> SpdySession:
        """The sans-IO session (for inspection; drive it only through this connection)."""
        return self._session

    @property
    def closed(self) -> bool:
        """The connection is finished: no frame will be read or written any more."""
        return self._closed.is_set()

    @property
    def close_reason(self) -> str | None:
        """Why the connection closed (``"eof"``, ``"idle timeout"``, a protocol error...)."""
        return self._close_reason

    async def wait_closed(self) -> None:
        """Wait until the connection is finished (EOF, error, idle timeout or local close)."""
        await self._closed.wait()

    async def wait_peer_gone(self) -> None:
        """Wait until the peer is done with the session: it sent GOAWAY, or the connection
        closed for any reason.  (spdystream's ``CloseChan`` fires on the same conditions; the
        kubelet cancels a running exec when it does.)"""
        await self._peer_done.wait()

    async def accept_stream(self) -> SpdyStream:
        """The next stream the peer opened (not yet replied to: call ``reply`` or ``reset``).

        Raises :class:`SpdyConnectionClosed` once no further stream can arrive.
        """
        try:
            return await self._incoming_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise SpdyConnectionClosed(
                f"SPDY connection closed ({self._close_reason or 'going away'})"
            ) from None

    async def open_stream(
        self, headers: Iterable[tuple[str, str]], *, fin: bool = False, wait_reply: bool = True
    ) -> SpdyStream:
        """Open a stream (SYN_STREAM); by default wait for the peer's SYN_REPLY."""
        await trio.lowlevel.checkpoint()
        self._check_alive()
        frozen = tuple(headers)
        try:
            stream_id = self._session.open_stream(frozen, fin=fin)
        except StreamClosedError as exc:
            raise SpdyConnectionClosed(str(exc)) from None
        stream = SpdyStream(
            self,
            stream_id,
            tuple((k.lower(), v) for k, v in frozen),
            locally_initiated=True,
        )
        stream._send_closed = fin
        self._streams[stream_id] = stream
        self._wake_writer()
        if wait_reply:
            await stream.wait_replied()
        return stream

    async def ping(self) -> float:
        """Send a PING and return the round-trip time in seconds (trio clock)."""
        await trio.lowlevel.checkpoint()
        self._check_alive()
        ping_id = self._session.ping()
        done = self._pings[ping_id] = trio.Event()
        self._wake_writer()
        start = trio.current_time()
        try:
            await done.wait()
        finally:
            self._pings.pop(ping_id, None)
        self._check_alive()
        return trio.current_time() - start

    async def goaway(self, status: int = GoAwayStatus.OK) -> None:
        """Send GOAWAY (once): the peer may open no more streams; open streams carry on."""
        await trio.lowlevel.checkpoint()
        if self.closed or self._session.failed is not None:
            return
        self._session.close(status)
        self._incoming_send.close()
        self._wake_writer()

    def statistics(self) -> SpdyConnectionStatistics:
        """Byte counters, pending streams and the session's own statistics."""
        return SpdyConnectionStatistics(
            bytes_received=self._bytes_received,
            bytes_sent=self._bytes_sent,
            pending_accept=self._incoming_receive.statistics().current_buffer_used,
            closed=self.closed,
            close_reason=self._close_reason,
            session=self._session.statistics(),
        )

    # ------------------------------------------------------------ helpers for SpdyStream

    def _check_alive(self) -> None:
        if self.closed:
            raise SpdyConnectionClosed(f"SPDY connection closed ({self._close_reason})")
        if self._session.failed is not None:
            raise SpdyConnectionClosed(f"SPDY session failed: {self._session.failed}")

    def _wake_writer(self) -> None:
        self._writer_lot.unpark_all()

    def _after_send(self, stream: SpdyStream) -> None:
        self._forget_if_finished(stream.stream_id)
        self._wake_writer()

    def _forget_if_finished(self, stream_id: int) -> None:
        if not self._session.is_open(stream_id):
            self._streams.pop(stream_id, None)

    def _consumed(self, stream: SpdyStream, size: int) -> None:
        self._session.acknowledge_received_data(stream.stream_id, size)
        if self._session.outbound_size:
            self._wake_writer()
        if stream.buffered <= self._max_stream_buffer:
            self._stream_drained_lot.unpark_all()

    async def _wait_writable(self) -> None:
        while (
            not self.closed
            and self._session.outbound_size + self._in_flight > self._write_buffer_size
        ):
            await self._drained_lot.park()
        self._check_alive()

    async def _flush(self) -> None:
        while not self.closed and (self._session.outbound_size or self._in_flight):
            self._wake_writer()
            await self._drained_lot.park()

    # ------------------------------------------------------------ background tasks

    async def _run(self, initial_data: bytes, task_status: trio.TaskStatus[None]) -> None:
        with self._background:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer)
                if self._idle_timeout is not None:
                    nursery.start_soon(self._watchdog, self._idle_timeout)
                task_status.started()
                await self._reader(initial_data)

    async def _reader(self, initial_data: bytes) -> None:
        data: bytes | bytearray = initial_data
        while True:
            if data:
                self._bytes_received += len(data)
                self._last_activity = trio.current_time()
                try:
                    events = self._session.receive_data(data)
                except ProtocolError as exc:
                    logger.info("SPDY session error from peer: %s", exc)
                    await self._abort(f"protocol error: {exc}", flush=True)
                    return
                touched = self._dispatch(events)
                if self._session.outbound_size:
                    self._wake_writer()
                # Back-pressure on what the peer makes us answer (PING echoes, RST_STREAMs):
                # read on once those have left.  Only control frames count: parking while our
                # own stream data waits would deadlock an exec echoing its input (each end's
                # output would wait for the other end, which no longer reads).
                while (
                    not self.closed and self._session.queued_control_bytes > self._write_buffer_size
                ):
                    await self._drained_lot.park()
                for stream in touched:
                    while (
                        stream.buffered > self._max_stream_buffer
                        and not self.closed
                        and stream.reset_status is None
                    ):
                        await self._stream_drained_lot.park()
            try:
                data = await self._transport.receive_some(self._receive_size)
            except _TRANSPORT_ERRORS as exc:
                await self._abort(f"receive failed: {exc!r}", flush=False)
                return
            if not data:
                await self._abort("eof", flush=True)
                return

    async def _writer(self) -> None:
        while True:
            if not self._session.outbound_size:
                await self._writer_lot.park()
                continue
            data = self._session.data_to_send()
            self._in_flight = len(data)
            try:
                await self._transport.send_all(data)
            except _TRANSPORT_ERRORS as exc:
                self._in_flight = 0
                await self._abort(f"send failed: {exc!r}", flush=False)
                return
            self._in_flight = 0
            self._bytes_sent += len(data)
            self._last_activity = trio.current_time()
            self._drained_lot.unpark_all()

    async def _watchdog(self, timeout: float) -> None:
        while True:
            deadline = self._last_activity + timeout
            if trio.current_time() >= deadline:
                break
            await trio.sleep_until(deadline)
        logger.info("SPDY connection idle for %ss, closing", timeout)
        self._session.close(GoAwayStatus.OK)
        await self._abort("idle timeout", flush=True)

    def _dispatch(self, events: list[Event]) -> list[SpdyStream]:
        touched: list[SpdyStream] = []
        seen: set[int] = set()
        for event in events:
            if isinstance(event, DataReceived):
                stream = self._streams.get(event.stream_id)
                if stream is None or stream._closed:
                    # Nobody will read it: give the credit straight back, and tell a sender that
                    # keeps writing to a stream we closed to stop (TCP would answer with RST).
                    self._session.acknowledge_received_data(event.stream_id, len(event.data))
                    if stream is not None:
                        stream._reset_nowait(RstStatus.CANCEL)
                    continue
                stream._feed(event.data)
                touched.append(stream)
            elif isinstance(event, StreamOpened):
                stream = SpdyStream(self, event.stream_id, event.headers, locally_initiated=False)
                if event.unidirectional:
                    stream._send_closed = True
                self._streams[event.stream_id] = stream
                try:
                    self._incoming_send.send_nowait(stream)
                except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                    stream._reset_nowait(RstStatus.REFUSED_STREAM)
            elif isinstance(event, StreamEnded):
                if (stream := self._streams.get(event.stream_id)) is not None:
                    stream._feed_eof()
            elif isinstance(event, StreamReplied):
                if (stream := self._streams.get(event.stream_id)) is not None:
                    stream._mark_replied(event.headers)
            elif isinstance(event, HeadersReceived):
                if (stream := self._streams.get(event.stream_id)) is not None:
                    stream.extra_headers.append(event.headers)
            elif isinstance(event, StreamReset):
                if (stream := self._streams.pop(event.stream_id, None)) is not None:
                    stream._mark_reset(event.status, remote=event.remote)
            elif isinstance(event, PingAcknowledged):
                if (done := self._pings.get(event.ping_id)) is not None:
                    done.set()
            elif isinstance(event, GoAwayReceived):
                self._incoming_send.close()
                self._peer_done.set()
            if stream_id := getattr(event, "stream_id", 0):
                seen.add(stream_id)
        # Forget streams the session is done with only now: the events of one read may carry a
        # stream's data *and* its end, and the session forgot the stream before we saw either.
        for stream_id in seen:
            self._forget_if_finished(stream_id)
        return touched

    async def _abort(self, reason: str, *, flush: bool) -> None:
        """End the connection from a background task (peer error, EOF, idle, broken I/O)."""
        if self.closed:
            return
        if flush:
            with trio.move_on_after(1):
                await self._flush()
        self._finish(reason)
        # Close the transport now, so the peer sees EOF at once rather than when the owner of
        # the connection gets round to leaving the ``async with`` block.
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self._transport.aclose()

    def _finish(self, reason: str) -> None:
        if self.closed:
            return
        self._close_reason = reason
        self._closed.set()
        self._peer_done.set()
        self._incoming_send.close()
        self._background.cancel()
        for stream in list(self._streams.values()):
            stream._wake()
        self._streams.clear()
        for done in self._pings.values():
            done.set()
        self._drained_lot.unpark_all()
        self._stream_drained_lot.unpark_all()

    async def _shutdown(self, close_timeout: float, linger: float) -> None:
        with trio.move_on_after(close_timeout) as scope:
            scope.shield = True
            if not self.closed:
                if self._session.failed is None:
                    self._session.close(GoAwayStatus.OK)
                await self._flush()
                # Linger until the peer closes (EOF, or a reset when it had unread data).
                with trio.move_on_after(linger):
                    await self._closed.wait()
        self._finish(self._close_reason or "closed locally")
        with trio.move_on_after(close_timeout) as scope:
            scope.shield = True
            await self._transport.aclose()


@asynccontextmanager
async def open_spdy_connection(
    transport: trio.abc.Stream,
    *,
    client_side: bool = False,
    initial_data: bytes = b"",
    session_config: SessionConfig | None = None,
    idle_timeout: float | None = None,
    max_stream_buffer: int = 1 << 20,
    write_buffer_size: int = 256 * 1024,
    max_pending_streams: int = 128,
    receive_size: int = 256 * 1024,
    close_timeout: float = 5.0,
    linger: float = 1.0,
) -> AsyncIterator[SpdyConnection]:
    """Run a SPDY session over ``transport`` for the duration of the ``async with`` block.

    ``initial_data`` are bytes that arrived after the HTTP upgrade request and were already read
    by whoever parsed it (h11's ``trailing_data``); they are processed before anything else.  On
    exit the connection is closed gracefully (GOAWAY, flush, linger, close) and the transport is
    closed.  See the module docstring for the meaning of the limits.
    """
    connection = SpdyConnection(
        transport,
        client_side=client_side,
        session_config=session_config,
        idle_timeout=idle_timeout,
        max_stream_buffer=max_stream_buffer,
        write_buffer_size=write_buffer_size,
        max_pending_streams=max_pending_streams,
        receive_size=receive_size,
    )
    with unwrap_single_exception():
        async with trio.open_nursery() as nursery:
            await nursery.start(connection._run, bytes(initial_data))
            try:
                yield connection
            finally:
                await connection._shutdown(close_timeout, linger)
