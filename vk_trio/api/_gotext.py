"""Parsers and formatters that reproduce the Go standard library's behaviour and error texts.

``kubectl`` users and scripts see the kubelet API's 400 messages verbatim (``could not parse
"tailLines": strconv.Atoi: parsing "x": invalid syntax``), so the parameter parsers here accept
exactly what Go's ``strconv`` and ``time.Parse(time.RFC3339, ...)`` accept and fail with the same
words.  Written from the documented behaviour of those functions, not from their source.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

__all__ = [
    "RFC3339_LAYOUT",
    "format_go_float",
    "go_quote",
    "parse_go_bool",
    "parse_go_int",
    "parse_rfc3339",
]

RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes for quotes, backslashes and non-printables."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif char.isprintable() or char == " ":
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def parse_go_int(text: str) -> int:
    """``strconv.Atoi`` (64-bit): optional sign, ASCII digits, nothing else.

    Raises :class:`ValueError` with Go's message (``strconv.Atoi: parsing "x": invalid syntax``
    or ``... value out of range``).
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"strconv.Atoi: parsing {go_quote(text)}: value out of range")
    return value


def parse_go_bool(text: str) -> bool:
    """``strconv.ParseBool``: ``1 t T TRUE true True`` and ``0 f F FALSE false False``."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


class _TimeSyntaxError(ValueError):
    def __init__(self, value: str, rest: str, element: str) -> None:
        super().__init__(
            f"parsing time {go_quote(value)} as {go_quote(RFC3339_LAYOUT)}: "
            f"cannot parse {go_quote(rest)} as {go_quote(element)}"
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
    The result is timezone-aware.
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
        tz: timezone = UTC
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
        if tz_hours > 24 or tz_minutes > 60:
            raise ValueError(f"parsing time {go_quote(value)}: time zone offset out of range")
        tz = timezone(sign * timedelta(hours=tz_hours, minutes=tz_minutes))
        rest = offset[5:]
    if rest:
        raise ValueError(
            f"parsing time {go_quote(value)} as {go_quote(RFC3339_LAYOUT)}: "
            f"extra text: {go_quote(rest)}"
        )
    ranges = (
        ("month", month, 1, 12),
        ("hour", hour, 0, 23),
        ("minute", minute, 0, 59),
        ("second", second, 0, 59),
    )
    for name, number, low, high in ranges:
        if not low <= number <= high:
            raise ValueError(f"parsing time {go_quote(value)}: {name} out of range")
    try:
        parsed = datetime(year, month, day, hour, minute, second, nanos // 1000, tzinfo=tz)
    except ValueError:
        raise ValueError(f"parsing time {go_quote(value)}: day out of range") from None
    return parsed


def format_go_float(value: float) -> str:
    """A float as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it (the Prometheus text
    format's number style): shortest round-trip digits, exponent form when the decimal exponent
    is below -4 or at least 6 (``1e+06``, ``1.5e-05``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    decimal = Decimal(repr(abs(float(value)))).normalize()
    _, digit_tuple, exponent = decimal.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    exp10 = len(digits) - 1 + exponent
    if exp10 < -4 or exp10 >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if exp10 >= len(digits) - 1:
        return sign + digits + "0" * (exp10 - len(digits) + 1)
    if exp10 >= 0:
        return f"{sign}{digits[: exp10 + 1]}.{digits[exp10 + 1 :]}"
    return f"{sign}0.{'0' * (-exp10 - 1)}{digits}"
