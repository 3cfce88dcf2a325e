"""SPDY/3.1 for the kubelet API: a sans-IO codec and session, plus a thin trio adapter.

Kubernetes still speaks SPDY/3.1 between the API server and the kubelet for ``exec``, ``attach``
and ``port-forward`` (and tunnels it inside WebSockets for port-forward even on the newest
clusters), and no maintained Python library implements it.  This package is built like
hypercorn's protocol layer:

* the *sans-IO* part - :class:`FrameEncoder`/:class:`FrameDecoder` (frames and the zlib header
  compression seeded with :data:`SPDY3_DICTIONARY`) and :class:`SpdySession` (stream ids,
  half-close, resets, pings, GOAWAY; bytes in, :mod:`events <._events>` out) - imports nothing
  but the standard library and attrs, and is tested by feeding bytes;
* the trio adapter - :func:`open_spdy_connection` runs a session over any
  :class:`trio.abc.Stream` (plus bytes a front door already read) and hands out
  :class:`SpdyStream` objects, which are ordinary :class:`trio.abc.HalfCloseableStream` s.
"""

from ._codec import FrameDecoder as FrameDecoder
from ._codec import FrameEncoder as FrameEncoder
from ._connection import SpdyConnection as SpdyConnection
from ._connection import SpdyConnectionStatistics as SpdyConnectionStatistics
from ._connection import open_spdy_connection as open_spdy_connection
from ._dictionary import SPDY3_DICTIONARY as SPDY3_DICTIONARY
from ._errors import ProtocolError as ProtocolError
from ._errors import SpdyError as SpdyError
from ._errors import StreamClosedError as StreamClosedError
from ._events import DataReceived as DataReceived
from ._events import Event as Event
from ._events import GoAwayReceived as GoAwayReceived
from ._events import HeadersReceived as HeadersReceived
from ._events import PingAcknowledged as PingAcknowledged
from ._events import PingReceived as PingReceived
from ._events import SettingsReceived as SettingsReceived
from ._events import StreamEnded as StreamEnded
from ._events import StreamOpened as StreamOpened
from ._events import StreamReplied as StreamReplied
from ._events import StreamReset as StreamReset
from ._events import WindowUpdated as WindowUpdated
from ._frames import MAX_FRAME_LENGTH as MAX_FRAME_LENGTH
from ._frames import MAX_STREAM_ID as MAX_STREAM_ID
from ._frames import SPDY_VERSION as SPDY_VERSION
from ._frames import BadHeaderBlock as BadHeaderBlock
from ._frames import DataFrame as DataFrame
from ._frames import Frame as Frame
from ._frames import FrameType as FrameType
from ._frames import GoAwayFrame as GoAwayFrame
from ._frames import GoAwayStatus as GoAwayStatus
from ._frames import Headers as Headers
from ._frames import HeadersFrame as HeadersFrame
from ._frames import PingFrame as PingFrame
from ._frames import RstStatus as RstStatus
from ._frames import RstStreamFrame as RstStreamFrame
from ._frames import Setting as Setting
from ._frames import SettingsFrame as SettingsFrame
from ._frames import SettingsId as SettingsId
from ._frames import SynReplyFrame as SynReplyFrame
from ._frames import SynStreamFrame as SynStreamFrame
from ._frames import UnknownFrame as UnknownFrame
from ._frames import WindowUpdateFrame as WindowUpdateFrame
from ._headers import decode_header_block as decode_header_block
from ._headers import encode_header_block as encode_header_block
from ._headers import header_value as header_value
from ._session import SessionConfig as SessionConfig
from ._session import SessionStatistics as SessionStatistics
from ._session import SpdySession as SpdySession
from ._session import StreamState as StreamState
from ._stream import SpdyConnectionClosed as SpdyConnectionClosed
from ._stream import SpdyStream as SpdyStream
from ._stream import StreamResetError as StreamResetError
