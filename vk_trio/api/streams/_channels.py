"""The Kubernetes WebSocket channel framing, sans I/O.

Every WebSocket message carries one channel's data: a leading channel byte, then the payload.
The ``base64`` subprotocols use text messages whose first character is the channel as an ASCII
digit (``"0"`` + channel) followed by the base64 of the payload, in both directions.  Channels for
exec/attach: 0 stdin, 1 stdout, 2 stderr, 3 error (Status), 4 resize; port-forward uses 2 per port
(data ``2i``, error ``2i+1``), each starting with the port number as 2 little-endian bytes.

``v5.channel.k8s.io`` adds one control message, CLOSE: the two bytes ``255, channel``, by which a
client half-closes a channel (typically stdin).  v4 and v5 report Status as JSON on the error
channel; the v1 protocols (``channel.k8s.io``, ``base64.channel.k8s.io`` and no subprotocol at
all) as plain text.
"""

from __future__ import annotations

import base64
import binascii
from typing import final

import attrs

from ._protocols import (
    STREAM_PROTOCOL_V1,
    STREAM_PROTOCOL_V4,
    STREAM_PROTOCOL_V5,
    WEBSOCKET_BASE64_V1,
    WEBSOCKET_BASE64_V4,
)

__all__ = [
    "CHANNEL_ERROR",
    "CHANNEL_RESIZE",
    "CHANNEL_STDERR",
    "CHANNEL_STDIN",
    "CHANNEL_STDOUT",
    "CLOSE_SIGNAL",
    "ChannelData",
    "ChannelDecodeError",
    "ChannelProtocol",
    "CloseSignal",
    "channel_protocol",
    "decode_channel_message",
    "encode_channel_message",
    "encode_close_signal",
    "encode_port_prefix",
]

CHANNEL_STDIN = 0
CHANNEL_STDOUT = 1
CHANNEL_STDERR = 2
CHANNEL_ERROR = 3
CHANNEL_RESIZE = 4
CLOSE_SIGNAL = 255


@final
@attrs.frozen
class ChannelProtocol:
    """How one subprotocol frames channels."""

    name: str
    base64: bool
    json_status: bool
    close_signal: bool


_PROTOCOLS = {
    p.name: p
    for p in (
        ChannelProtocol(STREAM_PROTOCOL_V5, base64=False, json_status=True, close_signal=True),
        ChannelProtocol(STREAM_PROTOCOL_V4, base64=False, json_status=True, close_signal=False),
        ChannelProtocol(WEBSOCKET_BASE64_V4, base64=True, json_status=True, close_signal=False),
        ChannelProtocol(STREAM_PROTOCOL_V1, base64=False, json_status=False, close_signal=False),
        ChannelProtocol(WEBSOCKET_BASE64_V1, base64=True, json_status=False, close_signal=False),
        ChannelProtocol("", base64=False, json_status=False, close_signal=False),
    )
}


def channel_protocol(name: str) -> ChannelProtocol:
    """The framing of subprotocol ``name`` (``""`` = none negotiated); :class:`ValueError` if we
    do not speak it."""
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unsupported WebSocket channel protocol {name!r}") from None


@final
@attrs.frozen
class ChannelData:
    """Payload for one channel."""

    channel: int
    data: bytes


@final
@attrs.frozen
class CloseSignal:
    """v5 CLOSE: the peer will send nothing more on ``channel``."""

    channel: int


class ChannelDecodeError(ValueError):
    """A message that cannot be decoded.  ``fatal`` errors (a malformed CLOSE) end the reading
    side of the connection, as upstream does; others lose only that message."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def encode_channel_message(
    protocol: ChannelProtocol, channel: int, data: bytes | bytearray | memoryview
) -> bytes | str:
    """One message carrying ``data`` on ``channel`` (``str`` = send as a text message)."""
    if not 0 <= channel <= 254:
        raise ValueError(f"channel {channel} out of range")
    if protocol.base64:
        if channel > 9:
            raise ValueError("base64 channel protocols address channels 0-9 only")
        return chr(0x30 + channel) + base64.b64encode(data).decode("ascii")
    return bytes((channel,)) + bytes(data)


def encode_close_signal(channel: int) -> bytes:
    """The v5 CLOSE message for ``channel``."""
    if not 0 <= channel <= 254:
        raise ValueError(f"channel {channel} out of range")
    return bytes((CLOSE_SIGNAL, channel))


def encode_port_prefix(port: int) -> bytes:
    """The 2-byte little-endian port number that opens each port-forward channel."""
    return port.to_bytes(2, "little")


def decode_channel_message(
    protocol: ChannelProtocol, message: bytes | bytearray | str
) -> ChannelData | CloseSignal | None:
    """Decode one received message; ``None`` for an empty message (ignored upstream too).

    Text and binary messages are accepted alike (Go's receiver does not distinguish them).
    """
    raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if not raw:
        return None
    if protocol.close_signal and raw[0] == CLOSE_SIGNAL:
        if len(raw) != 2:
            raise ChannelDecodeError(
                f"stream close signal must be followed by exactly one channel byte, got "
                f"{len(raw) - 1}",
                fatal=True,
            )
        return CloseSignal(raw[1])
    if protocol.base64:
        channel = raw[0] - 0x30
        try:
            data = base64.b64decode(raw[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ChannelDecodeError(f"invalid base64 on channel {channel}: {exc}") from None
        return ChannelData(channel, data)
    return ChannelData(raw[0], raw[1:])
