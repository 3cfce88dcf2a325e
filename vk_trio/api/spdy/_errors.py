"""Exceptions of the SPDY layer.

Two kinds of failure matter to a caller, and they are kept apart on purpose: the *peer* broke the
protocol (:class:`ProtocolError`: the session is over, a GOAWAY has been queued, close the
connection), or *we* tried to use a stream that can no longer carry data
(:class:`StreamClosedError`: the stream was reset or half-closed; other streams are unaffected).
Argument mistakes (a header name with a NUL, a stream id out of range) raise :class:`ValueError`.
"""

from __future__ import annotations

from typing import final

__all__ = ["ProtocolError", "SpdyError", "StreamClosedError"]


class SpdyError(Exception):
    """Base class of every error raised by :mod:`vk_trio.api.spdy`."""


@final
class ProtocolError(SpdyError):
    """The peer sent something that ends the session (a SPDY "session error").

    ``goaway_status`` is the GOAWAY status code we report to the peer (1 = PROTOCOL_ERROR,
    2 = INTERNAL_ERROR).  Once raised, the codec or session that raised it raises it again on every
    further input: the compression state may be corrupt, so nothing after it can be trusted.
    """

    def __init__(self, message: str, goaway_status: int = 1) -> None:
        super().__init__(message)
        self.goaway_status = goaway_status


@final
class StreamClosedError(SpdyError):
    """A local operation on a stream that is reset, closed for sending, or unknown.

    ``status`` is the RST_STREAM status code when the stream was reset (by either side), else
    ``None``.
    """

    def __init__(self, stream_id: int, message: str, status: int | None = None) -> None:
        super().__init__(f"stream {stream_id}: {message}")
        self.stream_id = stream_id
        self.status = status
