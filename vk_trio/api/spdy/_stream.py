"""One SPDY stream as a :class:`trio.abc.HalfCloseableStream`.

A :class:`SpdyStream` is what handlers program against: ``receive_some`` returns the peer's data
and ``b""`` after its FIN, ``send_all`` writes DATA frames, ``send_eof`` half-closes (an empty DATA
frame with FIN, exactly what spdystream's ``Close`` sends), ``reset`` aborts with RST_STREAM.
Received data is buffered per stream up to the connection's ``max_stream_buffer``; beyond that the
connection stops reading the socket until the stream is drained (see ``_connection.py``).

Error mapping follows trio's conventions: using a stream *we* closed raises
:class:`trio.ClosedResourceError`; a stream the peer reset raises :class:`StreamResetError`; a
connection that died raises :class:`trio.BrokenResourceError`.
"""

from __future__ import annotations

import operator
from collections import deque
from typing import TYPE_CHECKING, final

import trio

from ._errors import StreamClosedError
from ._frames import Headers, RstStatus

if TYPE_CHECKING:
    from ._connection import SpdyConnection

__all__ = ["SpdyConnectionClosed", "SpdyStream", "StreamResetError"]


class StreamResetError(trio.BrokenResourceError):
    """The stream was reset: by the peer (``remote``) or by the session over a peer error."""

    def __init__(self, stream_id: int, status: int, *, remote: bool) -> None:
        try:
            name = RstStatus(status).name
        except ValueError:
            name = str(status)
        who = "peer" if remote else "session"
        super().__init__(f"SPDY stream {stream_id} reset by {who}: {name}")
        self.stream_id = stream_id
        self.status = status
        self.remote = remote


class SpdyConnectionClosed(trio.BrokenResourceError):
    """The connection is closed (or going away): no more streams, no more data."""


@final
class SpdyStream(trio.abc.HalfCloseableStream):
    """A SPDY stream; obtained from ``SpdyConnection.accept_stream`` or ``open_stream``."""

    def __init__(
        self,
        connection: SpdyConnection,
        stream_id: int,
        headers: Headers,
        *,
        locally_initiated: bool,
        remote_closed: bool = False,
    ) -> None:
        self._conn = connection
        self.stream_id = stream_id
        #: The headers of the SYN_STREAM that opened the stream (ours or the peer's).
        self.headers: Headers = headers
        #: The headers of the peer's SYN_REPLY, for streams we opened.
        self.reply_headers: Headers = ()
        #: Headers from later HEADERS frames, in arrival order.
        self.extra_headers: list[Headers] = []
        self.locally_initiated = locally_initiated
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._eof = remote_closed
        self._reset: StreamResetError | None = None
        self._send_closed = False
        self._closed = False
        self._replied = trio.Event()
        if not locally_initiated:
            self._replied.set()
        self._readable = trio.lowlevel.ParkingLot()
        self._receiving = False
        self._sending = False

    def __repr__(self) -> str:
        return f"<SpdyStream {self.stream_id} headers={dict(self.headers)!r}>"

    # ------------------------------------------------------------ state

    @property
    def remote_closed(self) -> bool:
        """The peer half-closed (FIN received); buffered data may still be unread."""
        return self._eof

    @property
    def buffered(self) -> int:
        """Received bytes not yet returned by :meth:`receive_some`."""
        return self._buffered

    @property
    def reset_status(self) -> int | None:
        """The RST_STREAM status if the stream was reset, else ``None``."""
        return self._reset.status if self._reset is not None else None

    def header(self, name: str) -> str | None:
        """First value of header ``name`` from the opening SYN_STREAM (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k == wanted), None)

    # ------------------------------------------------------------ called by the connection

    def _feed(self, data: bytes) -> None:
        if self._closed:
            return
        self._chunks.append(data)
        self._buffered += len(data)
        self._readable.unpark_all()

    def _feed_eof(self) -> None:
        self._eof = True
        self._readable.unpark_all()

    def _mark_reset(self, status: int, *, remote: bool) -> None:
        if self._reset is None:
            self._reset = StreamResetError(self.stream_id, status, remote=remote)
        self._replied.set()
        self._readable.unpark_all()

    def _mark_replied(self, headers: Headers) -> None:
        self.reply_headers = headers
        self._replied.set()

    def _wake(self) -> None:
        self._replied.set()
        self._readable.unpark_all()

    # ------------------------------------------------------------ sending

    def _check_sendable(self) -> None:
        if self._closed or self._send_closed:
            raise trio.ClosedResourceError(f"SPDY stream {self.stream_id} is closed for sending")
        if self._reset is not None:
            raise self._reset
        self._conn._check_alive()

    async def reply(self, headers: Headers = ()) -> None:
        """Accept a peer-opened stream with SYN_REPLY (before any data is sent on it)."""
        await trio.lowlevel.checkpoint()
        self._check_sendable()
        try:
            self._conn._session.send_reply(self.stream_id, headers)
        except StreamClosedError as exc:
            raise trio.ClosedResourceError(str(exc)) from None
        self._conn._after_send(self)

    async def wait_replied(self) -> None:
        """For a stream we opened: wait for the peer's SYN_REPLY (or raise if it is reset)."""
        await self._replied.wait()
        if self._reset is not None:
            raise self._reset
        self._conn._check_alive()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this SPDY stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()
            self._check_sendable()
            if data:
                try:
                    self._conn._session.send_data(self.stream_id, data)
                except StreamClosedError as exc:
                    raise trio.ClosedResourceError(str(exc)) from None
                self._conn._after_send(self)
                await self._conn._wait_writable()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this SPDY stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()
            self._check_sendable()
            await self._conn._wait_writable()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """Half-close: FIN to the peer; receiving continues until the peer's FIN."""
        await trio.lowlevel.checkpoint()
        if self._send_closed or self._closed:
            return
        if self._reset is not None:
            raise self._reset
        self._conn._check_alive()
        self._send_closed = True
        self._conn._session.end_stream(self.stream_id)
        self._conn._after_send(self)

    async def reset(self, status: int = RstStatus.CANCEL) -> None:
        """Abort the stream in both directions with RST_STREAM (no-op if already gone)."""
        await trio.lowlevel.checkpoint()
        self._reset_nowait(status)

    def _reset_nowait(self, status: int) -> None:
        self._send_closed = True
        self._closed = True
        self._chunks.clear()
        self._buffered = 0
        if self._conn._session.failed is None and not self._conn.closed:
            self._conn._session.reset_stream(self.stream_id, status)
            self._conn._after_send(self)
        self._wake()

    # ------------------------------------------------------------ receiving

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this SPDY stream")
        self._receiving = True
        try:
            await trio.lowlevel.checkpoint()
            while True:
                if self._closed:
                    raise trio.ClosedResourceError(f"SPDY stream {self.stream_id} is closed")
                if self._chunks:
                    return self._take(max_bytes)
                if self._reset is not None:
                    raise self._reset
                if self._eof:
                    return b""
                if self._conn.closed:
                    raise SpdyConnectionClosed("SPDY connection closed before the stream ended")
                await self._readable.park()
        finally:
            self._receiving = False

    def _take(self, max_bytes: int | None) -> bytes:
        first = self._chunks[0]
        if max_bytes is None or len(first) <= max_bytes:
            self._chunks.popleft()
            data = first
        else:
            data = first[:max_bytes]
            self._chunks[0] = first[max_bytes:]
        self._buffered -= len(data)
        self._conn._consumed(self, len(data))
        return data

    # ------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Close both directions, with TCP's semantics.

        Normally this sends FIN (if not sent yet), so the peer reads everything we sent and then
        EOF.  Data that still arrives afterwards makes the connection reset the stream, so the
        peer's sender learns that nobody reads any more; and if unread data is already buffered,
        the stream is reset right away (like closing a socket with unread input).
        """
        if not self._closed:
            conn = self._conn
            dropped = self._buffered
            alive = not conn.closed and conn._session.failed is None and self._reset is None
            state = conn._session.stream_state(self.stream_id) if alive else None
            if state is not None and dropped and not state.remote_closed:
                self._reset_nowait(RstStatus.CANCEL)
            else:
                self._closed = True
                self._chunks.clear()
                self._buffered = 0
                if state is not None and not state.local_closed:
                    self._send_closed = True
                    conn._session.end_stream(self.stream_id)
                    conn._after_send(self)
                self._wake()
            if dropped:
                conn._consumed(self, dropped)
        await trio.lowlevel.checkpoint()
