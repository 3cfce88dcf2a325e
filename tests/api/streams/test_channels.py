"""WebSocket channel framing for every subprotocol."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vk_trio.api.streams import (
    REMOTE_COMMAND_WEBSOCKET_PROTOCOLS,
    ChannelData,
    ChannelDecodeError,
    CloseSignal,
    channel_protocol,
    decode_channel_message,
    encode_channel_message,
    encode_close_signal,
    encode_port_prefix,
)

BINARY = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io", ""]
BASE64 = ["v4.base64.channel.k8s.io", "base64.channel.k8s.io"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_protocols_prefix_the_channel_byte(name: str) -> None:
    protocol = channel_protocol(name)
    assert encode_channel_message(protocol, 1, b"\n") == b"\x01\n"
    assert decode_channel_message(protocol, b"\x00foo\n") == ChannelData(0, b"foo\n")
    assert decode_channel_message(protocol, b"\x03") == ChannelData(3, b"")


@pytest.mark.parametrize("name", BASE64)
def test_base64_protocols_use_text_with_a_digit(name: str) -> None:
    protocol = channel_protocol(name)
    # The example of the Kubernetes documentation: "foo\n" on stdin, "\n" on stdout.
    assert decode_channel_message(protocol, "0Zm9vCg==") == ChannelData(0, b"foo\n")
    assert encode_channel_message(protocol, 1, b"\n") == "1Cg=="
    # Binary messages with the same content are accepted as well.
    assert decode_channel_message(protocol, b"0Zm9vCg==") == ChannelData(0, b"foo\n")
    with pytest.raises(ChannelDecodeError) as info:
        decode_channel_message(protocol, "0not base64!")
    assert not info.value.fatal
    with pytest.raises(ValueError, match="0-9"):
        encode_channel_message(protocol, 10, b"")


def test_json_status_per_protocol() -> None:
    assert [channel_protocol(n).json_status for n in REMOTE_COMMAND_WEBSOCKET_PROTOCOLS] == [
        True,  # v5
        True,  # v4
        True,  # v4.base64
        False,  # channel.k8s.io
        False,  # base64.channel.k8s.io
        False,  # none
    ]


def test_v5_close_signal() -> None:
    v5 = channel_protocol("v5.channel.k8s.io")
    assert encode_close_signal(0) == b"\xff\x00"
    assert decode_channel_message(v5, b"\xff\x00") == CloseSignal(0)
    with pytest.raises(ChannelDecodeError) as info:
        decode_channel_message(v5, b"\xff\x00\x01")
    assert info.value.fatal
    # Before v5, 255 is just a channel number nobody uses.
    v4 = channel_protocol("v4.channel.k8s.io")
    assert decode_channel_message(v4, b"\xff\x00") == ChannelData(255, b"\x00")


def test_empty_messages_are_ignored_and_ports_are_little_endian() -> None:
    assert decode_channel_message(channel_protocol(""), b"") is None
    assert encode_port_prefix(8080) == b"\x90\x1f"


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        channel_protocol("v3.channel.k8s.io")


@given(
    st.sampled_from(BINARY + BASE64),
    st.integers(0, 9),
    st.binary(max_size=200),
)
def test_round_trip(name: str, channel: int, data: bytes) -> None:
    protocol = channel_protocol(name)
    message = encode_channel_message(protocol, channel, data)
    assert isinstance(message, str) == protocol.base64
    assert decode_channel_message(protocol, message) == ChannelData(channel, data)


@given(st.sampled_from(BINARY + BASE64), st.one_of(st.binary(max_size=50), st.text(max_size=50)))
def test_decoding_random_messages_only_raises_channel_errors(
    name: str, message: bytes | str
) -> None:
    with contextlib.suppress(ChannelDecodeError):
        decode_channel_message(channel_protocol(name), message)
