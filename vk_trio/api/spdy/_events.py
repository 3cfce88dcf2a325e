"""Events a :class:`~vk_trio.api.spdy.SpdySession` reports for the frames it received.

The session turns frames into *meaningful* events: a FIN flag becomes a separate
:class:`StreamEnded` after the data or headers it came with, frames that violated the stream state
machine never surface (the session answered them with RST_STREAM) except as a
:class:`StreamReset` with ``remote=False`` when a stream the application knows about died that way.
"""

from __future__ import annotations

from typing import final

import attrs

from ._frames import Headers, Setting

__all__ = [
    "DataReceived",
    "Event",
    "GoAwayReceived",
    "HeadersReceived",
    "PingAcknowledged",
    "PingReceived",
    "SettingsReceived",
    "StreamEnded",
    "StreamOpened",
    "StreamReplied",
    "StreamReset",
    "WindowUpdated",
]


@final
@attrs.frozen(kw_only=True)
class StreamOpened:
    """The peer opened ``stream_id`` (SYN_STREAM); a server answers with ``send_reply``."""

    stream_id: int
    headers: Headers
    associated_stream_id: int = 0
    priority: int = 0
    unidirectional: bool = False


@final
@attrs.frozen(kw_only=True)
class StreamReplied:
    """The peer accepted a stream we opened (SYN_REPLY)."""

    stream_id: int
    headers: Headers


@final
@attrs.frozen(kw_only=True)
class HeadersReceived:
    """Additional headers on an open stream (HEADERS)."""

    stream_id: int
    headers: Headers


@final
@attrs.frozen
class DataReceived:
    """Payload bytes for a stream; acknowledge them with ``acknowledge_received_data`` once used."""

    stream_id: int
    data: bytes


@final
@attrs.frozen
class StreamEnded:
    """The peer half-closed ``stream_id`` (FIN): no more data or headers will arrive on it."""

    stream_id: int


@final
@attrs.frozen(kw_only=True)
class StreamReset:
    """``stream_id`` is gone.  ``remote`` says whether the peer sent the RST_STREAM (``True``) or
    the session sent it because the peer violated the stream's state machine (``False``)."""

    stream_id: int
    status: int
    remote: bool


@final
@attrs.frozen
class PingReceived:
    """The peer pinged us; the session has already queued the echo."""

    ping_id: int


@final
@attrs.frozen
class PingAcknowledged:
    """The peer echoed one of our pings."""

    ping_id: int


@final
@attrs.frozen(kw_only=True)
class SettingsReceived:
    """The peer sent SETTINGS."""

    settings: tuple[Setting, ...]
    clear: bool


@final
@attrs.frozen
class WindowUpdated:
    """The peer granted flow-control credit (``stream_id`` 0 = whole session)."""

    stream_id: int
    delta: int


@final
@attrs.frozen
class GoAwayReceived:
    """The peer will accept no new streams; ours above ``last_good_stream_id`` were refused."""

    last_good_stream_id: int
    status: int


Event = (
    StreamOpened
    | StreamReplied
    | HeadersReceived
    | DataReceived
    | StreamEnded
    | StreamReset
    | PingReceived
    | PingAcknowledged
    | SettingsReceived
    | WindowUpdated
    | GoAwayReceived
)
