"""Wall-clock timestamps as the Kubernetes API writes and reads them.

* :func:`format_time` / :func:`format_micro_time` write ``metav1.Time`` (RFC 3339 in UTC, whole
  seconds) and ``metav1.MicroTime`` (six fractional digits, leases and events);
* :func:`parse_rfc3339` reads what Go's ``time.Parse(time.RFC3339, ...)`` reads, failing with Go's
  words (the kubelet API's ``sinceTime`` parameter);
* :func:`parse_time` reads any ISO 8601 text or takes a ``datetime`` (provider values, objects
  from the API server).

One rule for naive datetimes everywhere: a ``datetime`` without a time zone is UTC (never the
machine's local time, which would make a result depend on where the process runs). Results are
always timezone-aware.

Controllers take a ``now`` callable (default :func:`utc_now`) so tests can pin the wall clock;
*durations* always come from trio's clock, never from these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

__all__ = [
    "RFC3339_LAYOUT",
    "Now",
    "format_micro_time",
    "format_time",
    "parse_rfc3339",
    "parse_time",
    "utc_now",
]

RFC3339_LAYOUT: Final = "2006-01-02T15:04:05Z07:00"
_DAY: Final = timedelta(days=1)

Now = Callable[[], datetime]
"""A wall clock: returns the current time as an aware ``datetime``."""


def utc_now() -> datetime:
    """The current UTC time (aware)."""
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """``metav1.Time``: RFC 3339 in UTC, whole seconds (``2024-01-02T03:04:05Z``).

    The fraction is dropped (truncated, as Go's formatting does); naive means UTC.
    """
    m = _as_utc(moment)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def format_micro_time(moment: datetime) -> str:
    """``metav1.MicroTime``: RFC 3339 in UTC with six fractional digits (leases, events)."""
    m = _as_utc(moment)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def parse_time(value: Any) -> datetime:
    """A time from ISO 8601 text (``...Z`` or an offset) or a ``datetime``; naive means UTC.

    Raises :class:`ValueError` naming the text for malformed text and :class:`TypeError` for
    anything that is neither text nor a ``datetime``.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"invalid time {value!r} (want RFC 3339, e.g. 2024-01-31T12:00:00Z)"
            ) from None
    else:
        raise TypeError(f"invalid time {value!r} (want RFC 3339 text or a datetime)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _quote(text: str) -> str:
    """How Go's ``time`` package quotes text in its errors (not ``strconv.Quote``).

    ASCII from the space up (DEL included) stays as it is, the quote and the backslash are
    escaped, and every byte of anything else, control characters and non-ASCII alike, is written
    as ``\\xHH``.
    """
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif " " <= char <= "\x7f":
            out.append(char)
        else:
            raw = char.encode(
                "utf-8", "surrogateescape" if "\udc80" <= char <= "\udcff" else "surrogatepass"
            )
            out.extend(f"\\x{byte:02x}" for byte in raw)
    out.append('"')
    return "".join(out)


class _TimeSyntaxError(ValueError):
    def __init__(self, value: str, rest: str, element: str) -> None:
        super().__init__(
            f"parsing time {_quote(value)} as {_quote(RFC3339_LAYOUT)}: "
            f"cannot parse {_quote(rest)} as {_quote(element)}"
        )


def _digits(value: str, rest: str, count: int, element: str) -> tuple[int, str]:
    chunk = rest[:count]
    if len(chunk) != count or not chunk.isascii() or not chunk.isdigit():
        raise _TimeSyntaxError(value, rest, element)
    return int(chunk), rest[count:]


def _literal(value: str, rest: str, literal: str) -> str:
    if not rest.startswith(literal):
        raise _TimeSyntaxError(value, rest, literal)
    return rest[len(literal) :]


def parse_rfc3339(value: str) -> datetime:
    """``time.Parse(time.RFC3339, value)``: fractional seconds accepted, ``Z`` or ``±hh:mm``.

    Raises :class:`ValueError` with Go's wording (``parsing time "x" as
    "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"``, ``... month out of range``).
    The result is timezone-aware; sub-microsecond digits are dropped.
    """
    rest = value
    year, rest = _digits(value, rest, 4, "2006")
    rest = _literal(value, rest, "-")
    month, rest = _digits(value, rest, 2, "01")
    rest = _literal(value, rest, "-")
    day, rest = _digits(value, rest, 2, "02")
    rest = _literal(value, rest, "T")
    hour, rest = _digits(value, rest, 2, "15")
    rest = _literal(value, rest, ":")
    minute, rest = _digits(value, rest, 2, "04")
    rest = _literal(value, rest, ":")
    second, rest = _digits(value, rest, 2, "05")
    nanos = 0
    if rest[:1] in (".", ","):
        end = 1
        while end < len(rest) and rest[end].isascii() and rest[end].isdigit():
            end += 1
        fraction = rest[1:end]
        if not fraction:
            raise _TimeSyntaxError(value, rest, "Z07:00")
        nanos = int((fraction + "000000000")[:9])
        rest = rest[end:]
    if rest.startswith("Z"):
        shift = timedelta(0)
        rest = rest[1:]
    else:
        if rest[:1] not in ("+", "-"):
            raise _TimeSyntaxError(value, rest, "Z07:00")
        sign = 1 if rest[0] == "+" else -1
        offset = rest[1:]
        if (
            len(offset) < 5
            or offset[2] != ":"
            or not offset[:2].isdigit()
            or not offset[3:5].isdigit()
        ):
            raise _TimeSyntaxError(value, rest, "Z07:00")
        tz_hours, tz_minutes = int(offset[:2]), int(offset[3:5])
        if tz_minutes > 60:
            raise ValueError(f"parsing time {_quote(value)}: time zone offset minute out of range")
        if tz_hours > 24:
            raise ValueError(f"parsing time {_quote(value)}: time zone offset hour out of range")
        shift = sign * timedelta(hours=tz_hours, minutes=tz_minutes)
        rest = offset[5:]
    if rest:
        raise ValueError(f"parsing time {_quote(value)}: extra text: {_quote(rest)}")
    ranges = (
        ("month", month, 1, 12),
        ("hour", hour, 0, 23),
        ("minute", minute, 0, 59),
        ("second", second, 0, 59),
    )
    for name, number, low, high in ranges:
        if not low <= number <= high:
            raise ValueError(f"parsing time {_quote(value)}: {name} out of range")
    try:
        local = datetime(year, month, day, hour, minute, second, nanos // 1000)
    except ValueError:
        raise ValueError(f"parsing time {_quote(value)}: day out of range") from None
    if abs(shift) < _DAY:
        return local.replace(tzinfo=timezone(shift) if shift else UTC)
    # Go accepts offsets up to 24:60, Python's timezone only below 24 h: keep the instant, in UTC
    return (local - shift).replace(tzinfo=UTC)
