"""Kubernetes streaming subprotocol names and their server-side negotiation.

SPDY upgrades carry the client's offers in (possibly repeated, possibly comma-separated)
``X-Stream-Protocol-Version`` headers.  We answer from a *fixed* list of what we implement, as the
upstream kubelet does - not, like Virtual Kubelet, by echoing the client's first offer (which
"negotiates" protocols we cannot speak).  The choice follows apimachinery's ``Handshake``: the
first protocol *in the client's order* that the server supports, and the same error statuses and
texts when there is none.

WebSocket upgrades offer subprotocols in ``Sec-WebSocket-Protocol``; the server picks the first
offered one it supports, and a request offering none gets the plain binary ``channel.k8s.io``
semantics (the empty subprotocol), as upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

__all__ = [
    "ACCEPTED_PROTOCOLS_HEADER",
    "PORT_FORWARD_PROTOCOL_V1",
    "PORT_FORWARD_SPDY_PROTOCOLS",
    "PORT_FORWARD_WEBSOCKET_PROTOCOLS",
    "PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL",
    "REMOTE_COMMAND_SPDY_PROTOCOLS",
    "REMOTE_COMMAND_WEBSOCKET_PROTOCOLS",
    "STREAM_PROTOCOL_HEADER",
    "STREAM_PROTOCOL_V1",
    "STREAM_PROTOCOL_V2",
    "STREAM_PROTOCOL_V3",
    "STREAM_PROTOCOL_V4",
    "STREAM_PROTOCOL_V5",
    "WEBSOCKET_BASE64_V1",
    "WEBSOCKET_BASE64_V4",
    "ProtocolNegotiationError",
    "negotiate_spdy_protocol",
    "negotiate_websocket_subprotocol",
]

STREAM_PROTOCOL_HEADER = "X-Stream-Protocol-Version"
ACCEPTED_PROTOCOLS_HEADER = "X-Accepted-Stream-Protocol-Versions"

STREAM_PROTOCOL_V1 = "channel.k8s.io"
STREAM_PROTOCOL_V2 = "v2.channel.k8s.io"
STREAM_PROTOCOL_V3 = "v3.channel.k8s.io"
STREAM_PROTOCOL_V4 = "v4.channel.k8s.io"
STREAM_PROTOCOL_V5 = "v5.channel.k8s.io"
WEBSOCKET_BASE64_V1 = "base64.channel.k8s.io"
WEBSOCKET_BASE64_V4 = "v4.base64.channel.k8s.io"
PORT_FORWARD_PROTOCOL_V1 = "portforward.k8s.io"

#: What exec/attach accept over SPDY, in the kubelet's order.
REMOTE_COMMAND_SPDY_PROTOCOLS = (
    STREAM_PROTOCOL_V5,
    STREAM_PROTOCOL_V4,
    STREAM_PROTOCOL_V3,
    STREAM_PROTOCOL_V2,
    STREAM_PROTOCOL_V1,
)
#: What port-forward accepts over SPDY.
PORT_FORWARD_SPDY_PROTOCOLS = (PORT_FORWARD_PROTOCOL_V1,)
#: What exec/attach accept over WebSocket ("" = no subprotocol offered: binary v1 framing).
REMOTE_COMMAND_WEBSOCKET_PROTOCOLS = (
    STREAM_PROTOCOL_V5,
    STREAM_PROTOCOL_V4,
    WEBSOCKET_BASE64_V4,
    STREAM_PROTOCOL_V1,
    WEBSOCKET_BASE64_V1,
    "",
)
#: What port-forward accepts over WebSocket with channel framing.
PORT_FORWARD_WEBSOCKET_PROTOCOLS = (STREAM_PROTOCOL_V4, WEBSOCKET_BASE64_V4, "")
#: SPDY tunnelled in a WebSocket (kubectl port-forward through new API servers, KEP-4006): the
#: connection carries a SPDY session (``WebSocketByteStream``), not channels, and no ``port``
#: query parameters - so it is offered separately from the channel protocols above.
PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL = "SPDY/3.1+" + PORT_FORWARD_PROTOCOL_V1


@final
class ProtocolNegotiationError(Exception):
    """The upgrade must be refused: answer ``status_code`` with ``str(self)`` as the body
    (Go's ``http.Error`` adds a newline) and ``headers`` added to the response."""

    def __init__(
        self, status_code: int, message: str, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = tuple(headers)


def _go_list(items: Sequence[str]) -> str:
    # How Go's %v prints a []string.
    return "[" + " ".join(items) + "]"


def negotiate_spdy_protocol(
    header_values: Sequence[str] | None,
    server_protocols: Sequence[str] = REMOTE_COMMAND_SPDY_PROTOCOLS,
    *,
    request_header_count: int = 0,
) -> str:
    """Choose the SPDY subprotocol; send it back in ``X-Stream-Protocol-Version`` with the 101.

    ``header_values`` are all values of the request's ``X-Stream-Protocol-Version`` headers
    (``None`` if the header is absent); ``request_header_count`` is the number of distinct
    header names of the request, which the "absent" error message reports as Go does.
    Raises :class:`ProtocolNegotiationError` (400 or 403) otherwise.
    """
    if not server_protocols:
        raise ValueError("server_protocols must not be empty")
    if header_values is None:
        raise ProtocolNegotiationError(
            400,
            f"unable to upgrade: header {STREAM_PROTOCOL_HEADER} does not exist in request "
            f"with {request_header_count} headers",
        )
    if not header_values:
        raise ProtocolNegotiationError(
            400, f"unable to upgrade: header {STREAM_PROTOCOL_HEADER} is empty"
        )
    offered = [
        part.strip(" ") for value in header_values for part in value.split(",") if part.strip(" ")
    ]
    if not offered:
        raise ProtocolNegotiationError(
            400,
            f"unable to upgrade: header {STREAM_PROTOCOL_HEADER} contains "
            f"{_go_list(header_values)}, but no valid protocols",
        )
    for protocol in offered:
        if protocol in server_protocols:
            return protocol
    raise ProtocolNegotiationError(
        403,
        "unable to upgrade: unable to negotiate protocol: client supports "
        f"{_go_list(offered)}, server accepts {_go_list(server_protocols)}",
        [(ACCEPTED_PROTOCOLS_HEADER, protocol) for protocol in server_protocols],
    )


def negotiate_websocket_subprotocol(
    offered: Sequence[str], supported: Sequence[str] = REMOTE_COMMAND_WEBSOCKET_PROTOCOLS
) -> str | None:
    """The subprotocol to accept, ``""`` for "accept without one", or ``None`` to reject.

    ``offered`` is the client's list in its order (already split on commas and stripped, as
    ASGI's ``scope["subprotocols"]`` and trio-websocket's ``proposed_subprotocols`` are).
    """
    candidates = [p.strip() for p in offered if p.strip()] or [""]
    for protocol in candidates:
        if protocol in supported:
            return protocol
    return None
