"""Typed exceptions for API ``Status`` responses and connection failures.

The API server answers every failed request with a ``Status`` object
(``{"kind": "Status", "reason": "NotFound", "code": 404, ...}``).  Callers want
to branch on *what* went wrong (``except NotFound``, ``except Conflict``) rather
than on numbers, so each well-known reason gets its own exception class.  The
``reason`` field wins over the HTTP code when both are present, because several
reasons share a code (409 is both ``AlreadyExists`` and ``Conflict``; 410 is
``Gone`` or ``Expired``; 500 is ``InternalError`` or a storage ``Timeout``).

Every class keeps the parsed ``Status`` dict (``.status``) so nothing the server
said is lost, e.g. ``details.causes`` of an ``Invalid`` or
``details.retryAfterSeconds`` of a throttled request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

__all__ = [
    "AlreadyExists",
    "ApiConnectionError",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "MethodNotAllowed",
    "NotFound",
    "ServerTimeout",
    "TooManyRequests",
    "Unauthorized",
    "error_from_response",
    "error_from_status",
]


class ApiError(Exception):
    """A request the API server (or the path to it) refused.

    ``status_code`` is the HTTP status (0 for connection failures), ``reason``
    the ``Status.reason`` (``"NotFound"``, ``"Conflict"``, ...), ``message`` the
    human-readable text and ``status`` the whole ``Status`` dict when the
    server sent one.
    """

    default_reason: ClassVar[str] = "Unknown"

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        reason: str | None = None,
        status: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason if reason else self.default_reason
        self.message = message
        self.status = status

    def __str__(self) -> str:
        if self.status_code:
            return f"{self.status_code} {self.reason}: {self.message}"
        return f"{self.reason}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, reason={self.reason!r},"
            f" message={self.message!r})"
        )


class BadRequest(ApiError):
    """400: the request itself is malformed (bad selector, bad patch document...)."""

    default_reason = "BadRequest"


class Unauthorized(ApiError):
    """401: no or bad credentials (already retried once with fresh credentials)."""

    default_reason = "Unauthorized"


class Forbidden(ApiError):
    """403: authenticated, but RBAC/Node authorization or admission denied it."""

    default_reason = "Forbidden"


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""

    default_reason = "NotFound"


class MethodNotAllowed(ApiError):
    """405: the verb is not supported on this resource."""

    default_reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    """409 ``AlreadyExists``: a create for a name that is taken."""

    default_reason = "AlreadyExists"


class Conflict(ApiError):
    """409 ``Conflict``: the resourceVersion or UID precondition did not match."""

    default_reason = "Conflict"


class Gone(ApiError):
    """410 ``Gone``/``Expired``: the resourceVersion or continue token is too old; relist."""

    default_reason = "Gone"


class Invalid(ApiError):
    """422 ``Invalid``: validation failed; ``causes`` lists the offending fields."""

    default_reason = "Invalid"

    @property
    def causes(self) -> list[dict[str, Any]]:
        """``details.causes`` of the Status: ``[{"reason", "message", "field"}, ...]``."""
        details = (self.status or {}).get("details") or {}
        causes = details.get("causes") or []
        return [c for c in causes if isinstance(c, dict)]


class TooManyRequests(ApiError):
    """429: throttled by API priority and fairness (or a webhook); see ``retry_after``."""

    default_reason = "TooManyRequests"

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        reason: str | None = None,
        status: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason, status=status)
        self.retry_after = retry_after


class ServerTimeout(ApiError):
    """504 or ``reason: Timeout/ServerTimeout``: the server gave up; the request may have run."""

    default_reason = "ServerTimeout"


class InternalError(ApiError):
    """5xx without a more specific reason."""

    default_reason = "InternalError"


class ApiConnectionError(ApiError):
    """The request did not get an HTTP answer: connect/TLS failure, reset, EOF, stall, timeout.

    ``status_code`` is 0; the underlying exception is chained as ``__cause__``. ``sent`` is
    False when the request certainly never reached the server (connect, TLS handshake or pool
    timeout), which makes even a non-idempotent request safe to send again.
    """

    default_reason = "ConnectionError"

    def __init__(
        self,
        message: str,
        *,
        sent: bool = True,
        status_code: int = 0,
        reason: str | None = None,
        status: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason, status=status)
        self.sent = sent


_BY_REASON: dict[str, type[ApiError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "Timeout": ServerTimeout,
    "ServerTimeout": ServerTimeout,
    "InternalError": InternalError,
}

_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    504: ServerTimeout,
}


def _exception_class(code: int, reason: str | None) -> type[ApiError]:
    if reason is not None and reason in _BY_REASON:
        return _BY_REASON[reason]
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if code >= 500:
        return InternalError
    return ApiError


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in (possibly fractional) seconds; HTTP dates are not used by Kubernetes."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds


def error_from_status(
    status: Mapping[str, Any], *, status_code: int | None = None, retry_after: str | None = None
) -> ApiError:
    """The typed exception for a ``Status`` (from a response body or a watch ERROR event)."""
    raw_code = status.get("code")
    code = (
        status_code if status_code is not None else (raw_code if isinstance(raw_code, int) else 0)
    )
    raw_reason = status.get("reason")
    reason = raw_reason if isinstance(raw_reason, str) and raw_reason else None
    raw_message = status.get("message")
    message = raw_message if isinstance(raw_message, str) and raw_message else (reason or "")
    if not message:
        message = f"HTTP {code}"
    cls = _exception_class(code, reason)
    status_dict = dict(status)
    if cls is TooManyRequests:
        seconds = _parse_retry_after(retry_after)
        if seconds is None:
            details = status.get("details") or {}
            raw = details.get("retryAfterSeconds") if isinstance(details, Mapping) else None
            if isinstance(raw, int | float) and raw >= 0:
                seconds = float(raw)
        return TooManyRequests(
            message, status_code=code, reason=reason, status=status_dict, retry_after=seconds
        )
    return cls(message, status_code=code, reason=reason, status=status_dict)


def error_from_response(
    status_code: int, body: bytes, *, retry_after: str | None = None
) -> ApiError:
    """Build the typed exception for a non-2xx HTTP response.

    The body is normally a ``Status``; anything else (a proxy's HTML page, an
    empty body) still yields the right class from the HTTP code, with the body
    text (shortened) as the message.
    """
    status: dict[str, Any] | None = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            status = parsed
    if status is not None:
        return error_from_status(status, status_code=status_code, retry_after=retry_after)
    text = body[:512].decode("utf-8", "replace").strip() if body else ""
    fake: dict[str, Any] = {"code": status_code, "message": text or f"HTTP {status_code}"}
    error = error_from_status(fake, status_code=status_code, retry_after=retry_after)
    error.status = None
    return error
