"""Server-side negotiation of SPDY and WebSocket subprotocols."""

from __future__ import annotations

import pytest

from vk_trio.api.streams import (
    ACCEPTED_PROTOCOLS_HEADER,
    PORT_FORWARD_SPDY_PROTOCOLS,
    PORT_FORWARD_WEBSOCKET_PROTOCOLS,
    REMOTE_COMMAND_SPDY_PROTOCOLS,
    ProtocolNegotiationError,
    negotiate_spdy_protocol,
    negotiate_websocket_subprotocol,
)


def test_kubectl_offer_gets_v5() -> None:
    offer = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]
    assert negotiate_spdy_protocol(offer) == "v5.channel.k8s.io"


def test_the_first_supported_offer_wins_not_the_first_offer() -> None:
    # Virtual Kubelet would "negotiate" v9 here (it echoes the client's first offer).
    assert negotiate_spdy_protocol(["v9.channel.k8s.io", "v3.channel.k8s.io"]) == (
        "v3.channel.k8s.io"
    )
    assert negotiate_spdy_protocol(["v9.channel.k8s.io,  v2.channel.k8s.io"]) == (
        "v2.channel.k8s.io"
    )


def test_port_forward_protocol() -> None:
    assert (
        negotiate_spdy_protocol(["portforward.k8s.io"], PORT_FORWARD_SPDY_PROTOCOLS)
        == "portforward.k8s.io"
    )


def test_missing_header_is_400() -> None:
    with pytest.raises(ProtocolNegotiationError) as info:
        negotiate_spdy_protocol(None, request_header_count=7)
    assert info.value.status_code == 400
    assert str(info.value) == (
        "unable to upgrade: header X-Stream-Protocol-Version does not exist in request "
        "with 7 headers"
    )


def test_empty_and_blank_headers_are_400() -> None:
    with pytest.raises(ProtocolNegotiationError, match="is empty") as info:
        negotiate_spdy_protocol([])
    assert info.value.status_code == 400
    with pytest.raises(ProtocolNegotiationError) as info:
        negotiate_spdy_protocol([" , ", ""])
    assert str(info.value) == (
        "unable to upgrade: header X-Stream-Protocol-Version contains [ ,  ], "
        "but no valid protocols"
    )


def test_no_common_protocol_is_403_with_the_accepted_list() -> None:
    with pytest.raises(ProtocolNegotiationError) as info:
        negotiate_spdy_protocol(["v9.channel.k8s.io", "other"])
    assert info.value.status_code == 403
    assert str(info.value) == (
        "unable to upgrade: unable to negotiate protocol: client supports "
        "[v9.channel.k8s.io other], server accepts [v5.channel.k8s.io v4.channel.k8s.io "
        "v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]"
    )
    assert info.value.headers == tuple(
        (ACCEPTED_PROTOCOLS_HEADER, p) for p in REMOTE_COMMAND_SPDY_PROTOCOLS
    )


def test_websocket_subprotocols() -> None:
    assert negotiate_websocket_subprotocol(["v5.channel.k8s.io", "v4.channel.k8s.io"]) == (
        "v5.channel.k8s.io"
    )
    assert negotiate_websocket_subprotocol(["x", "base64.channel.k8s.io"]) == (
        "base64.channel.k8s.io"
    )
    assert negotiate_websocket_subprotocol([]) == ""
    assert negotiate_websocket_subprotocol(["nope"]) is None
    assert (
        negotiate_websocket_subprotocol(["v5.channel.k8s.io"], PORT_FORWARD_WEBSOCKET_PROTOCOLS)
        is None
    )
    assert (
        negotiate_websocket_subprotocol(["v4.channel.k8s.io"], PORT_FORWARD_WEBSOCKET_PROTOCOLS)
        == "v4.channel.k8s.io"
    )
