"""SPDY/3.1 frame values and protocol constants.

One immutable value per frame type; the codec (``_codec.py``) turns bytes into these values and
back.  Header blocks are carried *decoded* (lower-case names, ``str`` values decoded as Latin-1 so
any byte round-trips); a header that appears several times is several ``(name, value)`` pairs,
which the codec joins with NUL on the wire as SPDY requires.

Data frames are the exception to "one frame, one value": the decoder hands out a DATA frame's
payload as it arrives instead of buffering up to 16 MiB, so one wire frame may surface as several
:class:`DataFrame` values of which only the last carries ``fin``.
"""

from __future__ import annotations

import enum
from typing import final

import attrs

__all__ = [
    "FLAG_FIN",
    "FLAG_SETTINGS_CLEAR",
    "FLAG_UNIDIRECTIONAL",
    "MAX_FRAME_LENGTH",
    "MAX_STREAM_ID",
    "SPDY_VERSION",
    "BadHeaderBlock",
    "DataFrame",
    "Frame",
    "FrameType",
    "GoAwayFrame",
    "GoAwayStatus",
    "Headers",
    "HeadersFrame",
    "PingFrame",
    "RstStatus",
    "RstStreamFrame",
    "Setting",
    "SettingsFrame",
    "SettingsId",
    "SynReplyFrame",
    "SynStreamFrame",
    "UnknownFrame",
    "WindowUpdateFrame",
]

SPDY_VERSION = 3
MAX_FRAME_LENGTH = (1 << 24) - 1
MAX_STREAM_ID = (1 << 31) - 1

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

Headers = tuple[tuple[str, str], ...]


class FrameType(enum.IntEnum):
    """Control frame type codes."""

    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    """RST_STREAM status codes."""

    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


class GoAwayStatus(enum.IntEnum):
    """GOAWAY status codes."""

    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


class SettingsId(enum.IntEnum):
    """SETTINGS identifiers."""

    UPLOAD_BANDWIDTH = 1
    DOWNLOAD_BANDWIDTH = 2
    ROUND_TRIP_TIME = 3
    MAX_CONCURRENT_STREAMS = 4
    CURRENT_CWND = 5
    DOWNLOAD_RETRANS_RATE = 6
    INITIAL_WINDOW_SIZE = 7
    CLIENT_CERTIFICATE_VECTOR_SIZE = 8


@final
@attrs.frozen
class DataFrame:
    """A DATA frame, or a piece of one (see the module docstring)."""

    stream_id: int
    data: bytes
    fin: bool = False


@final
@attrs.frozen(kw_only=True)
class SynStreamFrame:
    """SYN_STREAM: the sender opens ``stream_id``."""

    stream_id: int
    headers: Headers
    associated_stream_id: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@final
@attrs.frozen(kw_only=True)
class SynReplyFrame:
    """SYN_REPLY: the recipient of a SYN_STREAM accepts the stream."""

    stream_id: int
    headers: Headers
    fin: bool = False


@final
@attrs.frozen
class RstStreamFrame:
    """RST_STREAM: abrupt end of one stream."""

    stream_id: int
    status: int


@final
@attrs.frozen
class Setting:
    """One SETTINGS entry; ``flags`` are the per-entry persistence flags (ignored by servers)."""

    id: int
    value: int
    flags: int = 0


@final
@attrs.frozen(kw_only=True)
class SettingsFrame:
    """SETTINGS: configuration values, e.g. the initial flow-control window."""

    settings: tuple[Setting, ...] = ()
    clear: bool = False


@final
@attrs.frozen
class PingFrame:
    """PING: the recipient echoes it unchanged; clients use odd ids, servers even ones."""

    ping_id: int


@final
@attrs.frozen
class GoAwayFrame:
    """GOAWAY: the sender accepts no new streams; ``last_good_stream_id`` is the last it handled."""

    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@final
@attrs.frozen(kw_only=True)
class HeadersFrame:
    """HEADERS: more headers for an open stream."""

    stream_id: int
    headers: Headers
    fin: bool = False


@final
@attrs.frozen
class WindowUpdateFrame:
    """WINDOW_UPDATE: flow-control credit; stream 0 is the session window (new in SPDY/3.1)."""

    stream_id: int
    delta: int


@final
@attrs.frozen
class UnknownFrame:
    """A control frame of a type this implementation does not know (the spec says: ignore it)."""

    frame_type: int
    flags: int
    payload: bytes


@final
@attrs.frozen
class BadHeaderBlock:
    """A SYN_STREAM/SYN_REPLY/HEADERS whose header block decompressed but is malformed.

    The compression state is intact, so this is a *stream* error: the session answers it with
    RST_STREAM(PROTOCOL_ERROR) and carries on.  ``frame_type`` says which frame it replaced.
    """

    frame_type: int
    stream_id: int
    reason: str


Frame = (
    DataFrame
    | SynStreamFrame
    | SynReplyFrame
    | RstStreamFrame
    | SettingsFrame
    | PingFrame
    | GoAwayFrame
    | HeadersFrame
    | WindowUpdateFrame
    | UnknownFrame
    | BadHeaderBlock
)
