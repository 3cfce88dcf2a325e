"""The request view and the plain-text responses shared by the ASGI app and the front door.

Both ways into the kubelet API - an ASGI scope from hypercorn and a raw HTTP/1.1 head the front
door read itself for SPDY upgrades - are reduced to one :class:`RequestHead`, so routing,
authentication and parameter validation run the same code whichever way a request came.
Errors that end a request early are :class:`HttpError` values carrying the status and the exact
body the Go kubelet writes (``http.Error`` appends a newline to the message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, final
from urllib.parse import parse_qsl

import attrs

__all__ = [
    "TEXT_PLAIN",
    "HttpError",
    "PeerIdentity",
    "RequestHead",
    "parse_query",
]

TEXT_PLAIN = b"text/plain; charset=utf-8"

Headers = Sequence[tuple[bytes, bytes]]


@final
@attrs.frozen
class PeerIdentity:
    """The verified client certificate's subject: ``user`` (CN) and ``groups`` (every O)."""

    user: str
    groups: tuple[str, ...] = ()


class HttpError(Exception):
    """End the request with ``status`` and ``body`` (plus ``headers``).

    ``go_error`` bodies get Go's ``http.Error`` newline; pass ``newline=False`` for handlers
    that write the error text without one (the kubelet's non-streaming error mapping).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        newline: bool = True,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = (message + ("\n" if newline else "")).encode()
        self.headers = tuple(headers)

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", TEXT_PLAIN),
            (b"x-content-type-options", b"nosniff"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        headers += [(name.lower().encode(), value.encode()) for name, value in self.headers]
        return headers


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    """``{name: [values in order]}`` as Go's ``url.ParseQuery`` builds it (blank values kept)."""
    result: dict[str, list[str]] = {}
    text = query_string.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8"):
        result.setdefault(name, []).append(value)
    return result


@final
@attrs.frozen(kw_only=True)
class RequestHead:
    """What the kubelet API needs to know about a request before serving it."""

    method: str
    #: The percent-decoded path (what routes match on, like Go's ``URL.Path``).
    path: str
    #: The path as sent (for validation of its escapes).
    raw_path: bytes
    query_string: bytes = b""
    #: Header names lower-cased, in order, repeated names kept.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    #: The verified client certificate's identity, if the client presented one.
    peer: PeerIdentity | None = None
    #: ``"websocket"`` for an ASGI WebSocket scope, else ``"http"``.
    kind: str = "http"

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> RequestHead:
        """Build from an ASGI ``http`` or ``websocket`` scope; the peer identity comes from the
        ``tls`` extension the front door adds (see ``_tls.tls_extension``)."""
        tls = (scope.get("extensions") or {}).get("tls") or {}
        peer = tls.get("vk_trio.peer")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        return cls(
            method=scope.get("method", "GET"),
            path=scope["path"],
            raw_path=bytes(raw_path),
            query_string=bytes(scope.get("query_string") or b""),
            headers=tuple((bytes(k).lower(), bytes(v)) for k, v in scope.get("headers") or ()),
            peer=peer if isinstance(peer, PeerIdentity) else None,
            kind=scope["type"],
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), decoded as Latin-1."""
        key = name.lower().encode()
        for header, value in self.headers:
            if header == key:
                return value.decode("latin-1")
        return None

    def header_values(self, name: str) -> list[str] | None:
        """Every value of header ``name`` in order, ``None`` if the header is absent."""
        key = name.lower().encode()
        values = [v.decode("latin-1") for k, v in self.headers if k == key]
        return values if values else None

    def header_count(self) -> int:
        """The number of distinct header names (what Go's ``len(req.Header)`` counts: Go keeps
        ``Host`` out of the header map)."""
        return len({name for name, _ in self.headers if name != b"host"})

    def query(self) -> dict[str, list[str]]:
        return parse_query(self.query_string)
