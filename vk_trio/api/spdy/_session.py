"""The SPDY/3.1 session state machine, sans I/O: bytes in, events out; calls in, bytes out.

:class:`SpdySession` owns the frame codec of one connection and the state of every stream on it
(who opened it, whether it was replied to, which side has half-closed).  The application feeds
received bytes to :meth:`SpdySession.receive_data` and gets :mod:`events <._events>` back; it
calls methods such as :meth:`~SpdySession.send_data` and collects the bytes to transmit with
:meth:`~SpdySession.data_to_send`.  There is no I/O and no clock here, so every rule can be tested
by feeding bytes.

Error handling follows the spec's two classes (section 2.4).  *Stream errors* (data on a stream
that is unknown or already half-closed by the peer, a second SYN_REPLY, a malformed header block)
are answered with RST_STREAM, consecutive duplicates coalesced, and the session carries on.
*Session errors* (undecodable bytes, a broken compression stream, stream ids going backwards)
queue a GOAWAY and raise :class:`~._errors.ProtocolError`; the caller then flushes
:meth:`~SpdySession.data_to_send` and closes the connection.

Flow control.  Kubernetes' SPDY peer (``moby/spdystream``) never sends WINDOW_UPDATE and ignores
the ones it receives, so a sender that honoured the 64 KiB initial window would stall forever
against it.  This session therefore does not limit what it sends; it tracks the windows for
statistics and - as a well-behaved receiver - grants credit back (per stream and, SPDY/3.1, for
the session) once the application acknowledges consumed data, which costs the Go peer nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import final

import attrs

from ._codec import DEFAULT_MAX_CONTROL_FRAME_SIZE, FrameDecoder, FrameEncoder
from ._errors import ProtocolError, StreamClosedError
from ._events import (
    DataReceived,
    Event,
    GoAwayReceived,
    HeadersReceived,
    PingAcknowledged,
    PingReceived,
    SettingsReceived,
    StreamEnded,
    StreamOpened,
    StreamReplied,
    StreamReset,
    WindowUpdated,
)
from ._frames import (
    MAX_STREAM_ID,
    BadHeaderBlock,
    DataFrame,
    Frame,
    FrameType,
    GoAwayFrame,
    GoAwayStatus,
    HeadersFrame,
    PingFrame,
    RstStatus,
    RstStreamFrame,
    Setting,
    SettingsFrame,
    SettingsId,
    SynReplyFrame,
    SynStreamFrame,
    UnknownFrame,
    WindowUpdateFrame,
)

__all__ = ["SessionConfig", "SessionStatistics", "SpdySession", "StreamState"]

_DEFAULT_WINDOW = 64 * 1024


@final
@attrs.frozen(kw_only=True)
class SessionConfig:
    """Limits and tunables of one session; the defaults suit a kubelet serving kubectl.

    ==========================  ===========  ====================================================
    option                      default      meaning
    ==========================  ===========  ====================================================
    max_concurrent_streams      1000         peer-opened streams open at once; more are refused
                                             with RST_STREAM(REFUSED_STREAM)
    max_data_frame_size         262144       payload bytes per DATA frame we send
    max_control_frame_size      1 MiB        larger control frames from the peer end the session
    max_header_block_size       1 MiB        decompressed header block limit (zlib-bomb guard)
    initial_window_size         16 MiB       our receive window, announced at the start with
                                             SETTINGS and a session WINDOW_UPDATE; credit is
                                             granted back when half of it has been consumed
    send_window_updates         True         announce and grant receive windows at all
    compression_level           zlib default level for our header compression stream
    max_queued_control_frames   10000        control frames (PING echoes, RST_STREAMs, ...)
                                             waiting in the outbound buffer; a peer that makes
                                             us queue more (a PING flood it never reads) ends
                                             the session with GOAWAY, as Go's HTTP/2 server does
    ==========================  ===========  ====================================================
    """

    max_concurrent_streams: int = 1000
    max_data_frame_size: int = 256 * 1024
    max_control_frame_size: int = DEFAULT_MAX_CONTROL_FRAME_SIZE
    max_header_block_size: int = 1 << 20
    initial_window_size: int = 16 << 20
    send_window_updates: bool = True
    compression_level: int = zlib.Z_DEFAULT_COMPRESSION
    max_queued_control_frames: int = 10_000

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.max_data_frame_size <= (1 << 24) - 1:
            raise ValueError("max_data_frame_size must be 1..2**24-1")
        if self.max_concurrent_streams < 1:
            raise ValueError("max_concurrent_streams must be positive")
        if not 1 <= self.initial_window_size <= MAX_STREAM_ID:
            raise ValueError("initial_window_size must be 1..2**31-1")


@final
@attrs.frozen(kw_only=True)
class StreamState:
    """A read-only snapshot of one stream's protocol state."""

    stream_id: int
    locally_initiated: bool
    replied: bool
    local_closed: bool
    remote_closed: bool


@final
@attrs.frozen(kw_only=True)
class SessionStatistics:
    """Counters of one session (see :meth:`SpdySession.statistics`)."""

    open_streams: int
    streams_opened_locally: int
    streams_opened_by_peer: int
    resets_sent: int
    resets_received: int
    data_bytes_sent: int
    data_bytes_received: int
    goaway_sent: bool
    goaway_received: bool


class _Stream:
    """Mutable per-stream protocol state (private; exposed as :class:`StreamState`)."""

    __slots__ = (
        "local",
        "local_closed",
        "recv_unacked",
        "remote_closed",
        "replied",
        "send_window",
        "stream_id",
    )

    def __init__(self, stream_id: int, *, local: bool, send_window: int) -> None:
        self.stream_id = stream_id
        self.local = local
        self.replied = False
        self.local_closed = False
        self.remote_closed = False
        self.recv_unacked = 0
        self.send_window = send_window


@final
class SpdySession:
    """One SPDY/3.1 session (either side).  See the module docstring."""

    def __init__(self, *, client_side: bool, config: SessionConfig | None = None) -> None:
        self.client_side = client_side
        self.config = config if config is not None else SessionConfig()
        self._decoder = FrameDecoder(
            max_control_frame_size=self.config.max_control_frame_size,
            max_header_block_size=self.config.max_header_block_size,
        )
        self._encoder = FrameEncoder(self.config.compression_level)
        self._outbound: list[bytes] = []
        self._outbound_size = 0
        self._queued_control = 0
        self._queued_control_bytes = 0
        self._streams: dict[int, _Stream] = {}
        self._next_stream_id = 1 if client_side else 2
        self._next_ping_id = 1 if client_side else 2
        self._outstanding_pings: set[int] = set()
        self._last_peer_stream_id = 0
        self._peer_open = 0
        self._peer_initial_window = _DEFAULT_WINDOW
        self._session_send_window = _DEFAULT_WINDOW
        self._session_recv_unacked = 0
        self._last_rst: tuple[int, int] | None = None
        self._goaway_sent = False
        self._goaway_received = False
        self._error: ProtocolError | None = None
        self._opened_locally = 0
        self._opened_by_peer = 0
        self._resets_sent = 0
        self._resets_received = 0
        self._bytes_sent = 0
        self._bytes_received = 0
        window = self.config.initial_window_size
        if self.config.send_window_updates and window != _DEFAULT_WINDOW:
            # Advertise our receive window once instead of granting 64 KiB at a time: a peer that
            # honours flow control never stalls, and the Go peer, which ignores both frames,
            # loses nothing.  (It also saves a WINDOW_UPDATE pair every 32 KiB: 40% of the
            # throughput of a bulk transfer in the benchmark.)
            self._queue_frame(
                SettingsFrame(settings=(Setting(SettingsId.INITIAL_WINDOW_SIZE, window),))
            )
            if window > _DEFAULT_WINDOW:
                self._queue_frame(WindowUpdateFrame(0, window - _DEFAULT_WINDOW))

    # ----------------------------------------------------------------- inspection

    @property
    def last_peer_stream_id(self) -> int:
        """The highest stream id the peer has opened (what our GOAWAY reports)."""
        return self._last_peer_stream_id

    @property
    def goaway_sent(self) -> bool:
        """We sent GOAWAY: new streams from the peer are ignored."""
        return self._goaway_sent

    @property
    def goaway_received(self) -> bool:
        """The peer sent GOAWAY: we may not open new streams."""
        return self._goaway_received

    @property
    def failed(self) -> ProtocolError | None:
        """The session error that ended this session, if any."""
        return self._error

    @property
    def outbound_size(self) -> int:
        """Bytes queued for sending and not yet taken by :meth:`data_to_send`."""
        return self._outbound_size

    def is_open(self, stream_id: int) -> bool:
        """The stream exists (not fully closed, not reset): cheaper than :meth:`stream_state`."""
        return stream_id in self._streams

    def stream_state(self, stream_id: int) -> StreamState | None:
        """The state of an open (not fully closed, not reset) stream, else ``None``."""
        st = self._streams.get(stream_id)
        if st is None:
            return None
        return StreamState(
            stream_id=stream_id,
            locally_initiated=st.local,
            replied=st.replied,
            local_closed=st.local_closed,
            remote_closed=st.remote_closed,
        )

    def statistics(self) -> SessionStatistics:
        """Counters for monitoring and tests."""
        return SessionStatistics(
            open_streams=len(self._streams),
            streams_opened_locally=self._opened_locally,
            streams_opened_by_peer=self._opened_by_peer,
            resets_sent=self._resets_sent,
            resets_received=self._resets_received,
            data_bytes_sent=self._bytes_sent,
            data_bytes_received=self._bytes_received,
            goaway_sent=self._goaway_sent,
            goaway_received=self._goaway_received,
        )

    # ----------------------------------------------------------------- output

    def data_to_send(self) -> bytes:
        """Take every byte queued for the peer (frames in the order they were produced)."""
        if not self._outbound:
            return b""
        data = self._outbound[0] if len(self._outbound) == 1 else b"".join(self._outbound)
        self._outbound.clear()
        self._outbound_size = 0
        self._queued_control = 0
        self._queued_control_bytes = 0
        return data

    def _queue(self, data: bytes) -> None:
        self._outbound.append(data)
        self._outbound_size += len(data)

    def _queue_frame(self, frame: Frame) -> None:
        encoded = self._encoder.encode(frame)
        self._queue(encoded)
        if not isinstance(frame, DataFrame):
            self._queued_control += 1
            self._queued_control_bytes += len(encoded)

    @property
    def queued_control_frames(self) -> int:
        """Control frames in the outbound buffer (reset by :meth:`data_to_send`)."""
        return self._queued_control

    @property
    def queued_control_bytes(self) -> int:
        """Bytes of those control frames (what a peer's PINGs and errors make us send)."""
        return self._queued_control_bytes

    # ----------------------------------------------------------------- local operations

    def _require_usable(self) -> None:
        if self._error is not None:
            raise StreamClosedError(0, "the session failed", None)

    def _local_stream(self, stream_id: int) -> _Stream:
        self._require_usable()
        st = self._streams.get(stream_id)
        if st is None:
            raise StreamClosedError(stream_id, "not open (reset, closed or never opened)")
        return st

    def open_stream(
        self,
        headers: Iterable[tuple[str, str]],
        *,
        fin: bool = False,
        unidirectional: bool = False,
        priority: int = 0,
        associated_stream_id: int = 0,
    ) -> int:
        """Queue a SYN_STREAM and return the new stream's id."""
        self._require_usable()
        stream_id = self._next_stream_id
        if self._goaway_received or self._goaway_sent:
            raise StreamClosedError(stream_id, "the session accepts no new streams")
        if stream_id > MAX_STREAM_ID:
            raise StreamClosedError(stream_id, "stream ids exhausted")
        frame = SynStreamFrame(
            stream_id=stream_id,
            headers=tuple(headers),
            fin=fin,
            unidirectional=unidirectional,
            priority=priority,
            associated_stream_id=associated_stream_id,
        )
        self._queue_frame(frame)  # validates before any state changes
        self._next_stream_id += 2
        st = _Stream(stream_id, local=True, send_window=self._peer_initial_window)
        st.local_closed = fin
        st.remote_closed = unidirectional
        self._streams[stream_id] = st
        self._opened_locally += 1
        self._forget_if_closed(st)
        return stream_id

    def send_reply(
        self, stream_id: int, headers: Iterable[tuple[str, str]] = (), *, fin: bool = False
    ) -> None:
        """Accept a peer-opened stream (SYN_REPLY); required before sending data on it."""
        st = self._local_stream(stream_id)
        if st.local:
            raise StreamClosedError(stream_id, "cannot reply to a stream we opened")
        if st.replied:
            raise StreamClosedError(stream_id, "already replied")
        if st.local_closed:
            raise StreamClosedError(stream_id, "closed for sending")
        self._queue_frame(SynReplyFrame(stream_id=stream_id, headers=tuple(headers), fin=fin))
        st.replied = True
        if fin:
            st.local_closed = True
            self._forget_if_closed(st)

    def send_headers(
        self, stream_id: int, headers: Iterable[tuple[str, str]], *, fin: bool = False
    ) -> None:
        """Send a HEADERS frame on an open stream."""
        st = self._sendable(stream_id)
        self._queue_frame(HeadersFrame(stream_id=stream_id, headers=tuple(headers), fin=fin))
        if fin:
            st.local_closed = True
            self._forget_if_closed(st)

    def _sendable(self, stream_id: int) -> _Stream:
        st = self._local_stream(stream_id)
        if st.local_closed:
            raise StreamClosedError(stream_id, "closed for sending")
        if not st.local and not st.replied:
            # A Go peer silently drops data that arrives before the SYN_REPLY; never let that
            # happen by accident: an implicit empty reply is always what the caller meant.
            self._queue_frame(SynReplyFrame(stream_id=stream_id, headers=()))
            st.replied = True
        return st

    def send_data(
        self, stream_id: int, data: bytes | bytearray | memoryview, *, fin: bool = False
    ) -> None:
        """Queue ``data`` on a stream, split into frames of at most ``max_data_frame_size``."""
        st = self._sendable(stream_id)
        size = len(data)
        limit = self.config.max_data_frame_size
        header = self._encoder.data_header
        # Header and payload are queued separately: ``data_to_send`` joins them in one copy.
        # Mutable buffers are copied now, because the caller may reuse them.
        payload = data if isinstance(data, bytes) else bytes(data)
        if size <= limit:
            self._queue(header(stream_id, size, fin))
            if size:
                self._queue(payload)
        else:
            for offset in range(0, size, limit):
                chunk = payload[offset : offset + limit]
                self._queue(header(stream_id, len(chunk), fin and offset + limit >= size))
                self._queue(chunk)
        self._bytes_sent += size
        st.send_window -= size
        self._session_send_window -= size
        if fin:
            st.local_closed = True
            self._forget_if_closed(st)

    def end_stream(self, stream_id: int) -> None:
        """Half-close a stream: an empty DATA frame with FIN (what spdystream's Close sends)."""
        self.send_data(stream_id, b"", fin=True)

    def reset_stream(self, stream_id: int, status: int = RstStatus.CANCEL) -> bool:
        """Abort a stream with RST_STREAM.  Returns ``False`` (and sends nothing) if it was not
        open, so resetting twice or resetting a finished stream is harmless."""
        self._require_usable()
        st = self._streams.pop(stream_id, None)
        if st is None:
            return False
        if not st.local:
            self._peer_open -= 1
        self._send_rst(stream_id, status)
        return True

    def acknowledge_received_data(self, stream_id: int, size: int) -> None:
        """Tell the session ``size`` received bytes were consumed, granting credit back with
        WINDOW_UPDATE once half a window's worth has been consumed (stream and session)."""
        if size <= 0 or not self.config.send_window_updates or self._error is not None:
            return
        threshold = self.config.initial_window_size // 2
        self._session_recv_unacked += size
        if self._session_recv_unacked >= threshold:
            self._queue_frame(WindowUpdateFrame(0, self._session_recv_unacked))
            self._session_recv_unacked = 0
        st = self._streams.get(stream_id)
        if st is None or st.remote_closed:
            return
        st.recv_unacked += size
        if st.recv_unacked >= threshold:
            self._queue_frame(WindowUpdateFrame(stream_id, st.recv_unacked))
            st.recv_unacked = 0

    def ping(self) -> int:
        """Queue a PING with a fresh id of our parity and return the id."""
        self._require_usable()
        ping_id = self._next_ping_id
        # Ids wrap before 2**31 (as spdystream's do), keeping their parity and never reaching 0.
        wrapped = 1 if self.client_side else 2
        self._next_ping_id = ping_id + 2 if ping_id + 2 <= MAX_STREAM_ID else wrapped
        self._outstanding_pings.add(ping_id)
        self._queue_frame(PingFrame(ping_id))
        return ping_id

    def send_settings(self, settings: Iterable[Setting], *, clear: bool = False) -> None:
        """Send SETTINGS (rarely useful: neither Kubernetes peer acts on them)."""
        self._require_usable()
        self._queue_frame(SettingsFrame(settings=tuple(settings), clear=clear))

    def close(self, status: int = GoAwayStatus.OK) -> None:
        """Queue GOAWAY (once): no new peer streams are accepted after this."""
        if self._goaway_sent:
            return
        self._goaway_sent = True
        self._queue_frame(GoAwayFrame(self._last_peer_stream_id, status))

    # ----------------------------------------------------------------- input

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Process bytes from the peer and return the resulting events.

        Raises :class:`ProtocolError` on a session error, after queuing the GOAWAY that reports
        it; every later call raises the same error.
        """
        if self._error is not None:
            raise self._error
        try:
            frames = self._decoder.receive_data(data)
            events: list[Event] = []
            limit = self.config.max_queued_control_frames
            for frame in frames:
                self._handle(frame, events)
                if self._queued_control > limit:
                    raise ProtocolError(
                        f"peer made us queue more than {limit} control frames without reading",
                        GoAwayStatus.INTERNAL_ERROR,
                    )
        except ProtocolError as exc:
            self._error = exc
            if not self._goaway_sent:
                self._goaway_sent = True
                self._queue_frame(GoAwayFrame(self._last_peer_stream_id, exc.goaway_status))
            raise
        return events

    def _send_rst(self, stream_id: int, status: int) -> None:
        key = (stream_id, status)
        if key == self._last_rst:
            return  # coalesce a run of identical resets (spec 2.4.2)
        self._last_rst = key
        self._resets_sent += 1
        self._queue_frame(RstStreamFrame(stream_id, status))

    def _stream_error(
        self, stream_id: int, status: int, events: list[Event], *, known: bool = True
    ) -> None:
        """Reset ``stream_id`` because the peer broke its state machine."""
        st = self._streams.pop(stream_id, None)
        if st is not None and not st.local:
            self._peer_open -= 1
        self._send_rst(stream_id, status)
        if st is not None and known:
            events.append(StreamReset(stream_id=stream_id, status=status, remote=False))

    def _forget_if_closed(self, st: _Stream) -> None:
        if not (st.local_closed and st.remote_closed):
            return
        if self._streams.pop(st.stream_id, None) is not None and not st.local:
            self._peer_open -= 1

    def _peer_fin(self, st: _Stream, events: list[Event]) -> None:
        st.remote_closed = True
        events.append(StreamEnded(st.stream_id))
        self._forget_if_closed(st)

    def _handle(self, frame: Frame, events: list[Event]) -> None:
        if isinstance(frame, DataFrame):
            self._on_data(frame, events)
        elif isinstance(frame, SynStreamFrame):
            self._on_syn_stream(frame, events)
        elif isinstance(frame, SynReplyFrame):
            self._on_syn_reply(frame, events)
        elif isinstance(frame, HeadersFrame):
            self._on_headers(frame, events)
        elif isinstance(frame, RstStreamFrame):
            st = self._streams.pop(frame.stream_id, None)
            self._resets_received += 1
            if st is not None:
                if not st.local:
                    self._peer_open -= 1
                events.append(
                    StreamReset(stream_id=frame.stream_id, status=frame.status, remote=True)
                )
        elif isinstance(frame, PingFrame):
            self._on_ping(frame, events)
        elif isinstance(frame, SettingsFrame):
            for entry in frame.settings:
                if entry.id == SettingsId.INITIAL_WINDOW_SIZE:
                    self._peer_initial_window = entry.value
            events.append(SettingsReceived(settings=frame.settings, clear=frame.clear))
        elif isinstance(frame, WindowUpdateFrame):
            if frame.stream_id == 0:
                self._session_send_window += frame.delta
            elif (st := self._streams.get(frame.stream_id)) is not None:
                st.send_window += frame.delta
            events.append(WindowUpdated(frame.stream_id, frame.delta))
        elif isinstance(frame, GoAwayFrame):
            self._on_goaway(frame, events)
        elif isinstance(frame, BadHeaderBlock):
            self._on_bad_header_block(frame, events)
        else:
            assert isinstance(frame, UnknownFrame)
            # Unknown control frame types (e.g. SPDY/3's CREDENTIAL) are ignored.

    def _is_peer_id(self, stream_id: int) -> bool:
        # Clients open odd ids, servers even ones.
        return (stream_id % 2 == 0) == self.client_side

    def _on_data(self, frame: DataFrame, events: list[Event]) -> None:
        st = self._streams.get(frame.stream_id)
        if st is None:
            if not self._goaway_sent:
                self._send_rst(frame.stream_id, RstStatus.INVALID_STREAM)
            return
        if st.remote_closed:
            self._stream_error(frame.stream_id, RstStatus.STREAM_ALREADY_CLOSED, events)
            return
        if st.local and not st.replied:
            self._stream_error(frame.stream_id, RstStatus.PROTOCOL_ERROR, events)
            return
        if frame.data:
            self._bytes_received += len(frame.data)
            events.append(DataReceived(frame.stream_id, frame.data))
        if frame.fin:
            self._peer_fin(st, events)

    def _on_syn_stream(self, frame: SynStreamFrame, events: list[Event]) -> None:
        stream_id = frame.stream_id
        if not self._is_peer_id(stream_id):
            raise ProtocolError(f"peer opened stream {stream_id} with our parity")
        if stream_id <= self._last_peer_stream_id:
            if stream_id in self._streams:
                self._stream_error(stream_id, RstStatus.PROTOCOL_ERROR, events)
                return
            raise ProtocolError(
                f"stream id {stream_id} not above the last one ({self._last_peer_stream_id})"
            )
        self._last_peer_stream_id = stream_id
        if self._goaway_sent:
            return  # after GOAWAY, new streams are ignored (spec 2.6.6)
        if self._peer_open >= self.config.max_concurrent_streams:
            self._send_rst(stream_id, RstStatus.REFUSED_STREAM)
            return
        st = _Stream(stream_id, local=False, send_window=self._peer_initial_window)
        st.local_closed = frame.unidirectional
        self._streams[stream_id] = st
        self._peer_open += 1
        self._opened_by_peer += 1
        events.append(
            StreamOpened(
                stream_id=stream_id,
                headers=frame.headers,
                associated_stream_id=frame.associated_stream_id,
                priority=frame.priority,
                unidirectional=frame.unidirectional,
            )
        )
        if frame.fin:
            self._peer_fin(st, events)

    def _on_syn_reply(self, frame: SynReplyFrame, events: list[Event]) -> None:
        st = self._streams.get(frame.stream_id)
        if st is None:
            if not self._goaway_sent:
                self._send_rst(frame.stream_id, RstStatus.INVALID_STREAM)
            return
        if not st.local:
            self._stream_error(frame.stream_id, RstStatus.PROTOCOL_ERROR, events)
            return
        if st.replied:
            self._stream_error(frame.stream_id, RstStatus.STREAM_IN_USE, events)
            return
        if st.remote_closed:
            self._stream_error(frame.stream_id, RstStatus.STREAM_ALREADY_CLOSED, events)
            return
        st.replied = True
        events.append(StreamReplied(stream_id=frame.stream_id, headers=frame.headers))
        if frame.fin:
            self._peer_fin(st, events)

    def _on_headers(self, frame: HeadersFrame, events: list[Event]) -> None:
        st = self._streams.get(frame.stream_id)
        if st is None:
            if not self._goaway_sent:
                self._send_rst(frame.stream_id, RstStatus.INVALID_STREAM)
            return
        if st.remote_closed:
            self._stream_error(frame.stream_id, RstStatus.STREAM_ALREADY_CLOSED, events)
            return
        events.append(HeadersReceived(stream_id=frame.stream_id, headers=frame.headers))
        if frame.fin:
            self._peer_fin(st, events)

    def _on_ping(self, frame: PingFrame, events: list[Event]) -> None:
        ours = (frame.ping_id % 2 == 1) == self.client_side
        if not ours:
            self._queue_frame(PingFrame(frame.ping_id))
            events.append(PingReceived(frame.ping_id))
        elif frame.ping_id in self._outstanding_pings:
            self._outstanding_pings.discard(frame.ping_id)
            events.append(PingAcknowledged(frame.ping_id))
        # else: an echo of a ping we never sent - ignore it, as the spec requires.

    def _on_goaway(self, frame: GoAwayFrame, events: list[Event]) -> None:
        self._goaway_received = True
        events.append(GoAwayReceived(frame.last_good_stream_id, frame.status))
        # Streams we opened above last_good were never processed by the peer.
        for stream_id in sorted(self._streams):
            st = self._streams[stream_id]
            if st.local and stream_id > frame.last_good_stream_id:
                del self._streams[stream_id]
                events.append(
                    StreamReset(stream_id=stream_id, status=RstStatus.REFUSED_STREAM, remote=True)
                )

    def _on_bad_header_block(self, frame: BadHeaderBlock, events: list[Event]) -> None:
        stream_id = frame.stream_id
        if frame.frame_type == FrameType.SYN_STREAM:
            if not self._is_peer_id(stream_id):
                raise ProtocolError(f"peer opened stream {stream_id} with our parity")
            if stream_id > self._last_peer_stream_id:
                self._last_peer_stream_id = stream_id
                self._send_rst(stream_id, RstStatus.PROTOCOL_ERROR)
                return
        self._stream_error(stream_id, RstStatus.PROTOCOL_ERROR, events)
