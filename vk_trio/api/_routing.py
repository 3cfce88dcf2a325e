"""The kubelet API's route table, path hygiene and the router's 301/404/405 behaviour.

Routes and router behaviour follow the Go Virtual Kubelet's router (gorilla/mux with
``StrictSlash``): an unknown path is 404 ``404 request not found``, a known path with the wrong
method 405 with an empty body, ``/pods/`` redirects (301) to ``/pods`` and ``/runningpods`` to
``/runningpods/``, and a path with empty segments (``//``) redirects to its clean form.

Where Go would also *redirect* a path with ``.`` or ``..`` segments, we refuse it with 400: a
path variable must never be able to carry a traversal to a provider, and a redirect only invites
the client to try again.  Malformed percent-escapes, escaped control characters and escapes that
do not decode to UTF-8 are 400 as well (Go's server rejects bad escapes before routing).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import final
from urllib.parse import quote, unquote_to_bytes

import attrs

from ..util import go_quote
from ._http import HttpError

__all__ = [
    "ROUTES",
    "Redirect",
    "Route",
    "RouteKind",
    "RouteMatch",
    "decode_path",
    "resolve_route",
]

_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class RouteKind(enum.Enum):
    HEALTHZ = "healthz"
    PODS = "pods"
    RUNNING_PODS = "runningpods"
    CONTAINER_LOGS = "containerLogs"
    EXEC = "exec"
    ATTACH = "attach"
    PORT_FORWARD = "portForward"
    STATS_SUMMARY = "stats/summary"
    METRICS_RESOURCE = "metrics/resource"

    @property
    def streaming(self) -> bool:
        """Served over an upgraded connection (SPDY or WebSocket)."""
        return self in (RouteKind.EXEC, RouteKind.ATTACH, RouteKind.PORT_FORWARD)


@final
@attrs.frozen
class Route:
    kind: RouteKind
    #: Path segments; ``{name}`` is a variable matching one non-empty segment.
    segments: tuple[str, ...]
    methods: frozenset[str]
    #: Registered with a trailing slash (``/runningpods/``).
    trailing_slash: bool = False

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for template, part in zip(self.segments, parts, strict=True):
            if template.startswith("{"):
                if not part:
                    return None
                params[template[1:-1]] = part
            elif template != part:
                return None
        return params


def _route(kind: RouteKind, template: str, *methods: str) -> Route:
    trailing = template.endswith("/")
    segments = tuple(template.strip("/").split("/"))
    return Route(kind, segments, frozenset(methods or ("GET",)), trailing)


ROUTES: tuple[Route, ...] = (
    _route(RouteKind.RUNNING_PODS, "/runningpods/"),
    _route(RouteKind.PODS, "/pods"),
    _route(RouteKind.HEALTHZ, "/healthz"),
    _route(RouteKind.CONTAINER_LOGS, "/containerLogs/{namespace}/{pod}/{container}"),
    _route(RouteKind.EXEC, "/exec/{namespace}/{pod}/{container}", "GET", "POST"),
    _route(RouteKind.ATTACH, "/attach/{namespace}/{pod}/{container}", "GET", "POST"),
    _route(RouteKind.PORT_FORWARD, "/portForward/{namespace}/{pod}", "GET", "POST"),
    _route(RouteKind.STATS_SUMMARY, "/stats/summary"),
    _route(RouteKind.METRICS_RESOURCE, "/metrics/resource"),
)


@final
@attrs.frozen
class RouteMatch:
    route: Route
    params: Mapping[str, str]

    @property
    def kind(self) -> RouteKind:
        return self.route.kind


class Redirect(HttpError):
    """301 to ``location`` (Go's ``http.Redirect`` body for GET requests)."""

    def __init__(self, path: str, query_string: bytes = b"") -> None:
        location = quote(path, safe="/:@!$&'()*+,;=")
        if query_string:
            location += "?" + query_string.decode("latin-1")
        super().__init__(301, f'<a href="{location}">Moved Permanently</a>.\n', newline=True)
        self.location = location

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"location", self.location.encode("utf-8")),
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
        ]


def _bad_path(reason: str) -> HttpError:
    return HttpError(400, f"invalid request path: {reason}")


def decode_path(raw_path: bytes) -> str:
    """Percent-decode the request path strictly; :class:`HttpError` 400 for anything a route
    variable must never carry (see the module docstring)."""
    if not raw_path.startswith(b"/"):
        raise _bad_path("must start with /")
    bad = _ESCAPE.search(raw_path)
    if bad is not None:
        escape = raw_path[bad.start() : bad.start() + 3].decode("latin-1")
        raise HttpError(400, f"invalid URL escape {go_quote(escape)}")
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_path("escapes do not decode to UTF-8") from None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise _bad_path("control characters")
    # Checked on the raw form too: "%2e%2e" decodes to "..".
    for form in (path, raw_path.decode("latin-1")):
        if any(segment in (".", "..") for segment in form.split("/")):
            raise _bad_path('"." and ".." segments are not allowed')
    return path


def _clean(path: str) -> str:
    cleaned = re.sub("/{2,}", "/", path)
    return cleaned or "/"


def resolve_route(method: str, path: str, query_string: bytes = b"") -> RouteMatch:
    """Match a decoded path.  Raises :class:`Redirect` (301), or :class:`HttpError` 404/405."""
    cleaned = _clean(path)
    if cleaned != path:
        raise Redirect(cleaned, query_string)
    trailing = path.endswith("/") and path != "/"
    parts = tuple(path.strip("/").split("/"))
    for route in ROUTES:
        params = route.match(parts)
        if params is None:
            continue
        if route.trailing_slash != trailing:
            # StrictSlash: the other form redirects to the registered one.
            target = "/" + "/".join(parts) + ("/" if route.trailing_slash else "")
            raise Redirect(target, query_string)
        if method not in route.methods:
            raise HttpError(405, "", newline=False)
        return RouteMatch(route, params)
    raise HttpError(404, "404 request not found")
