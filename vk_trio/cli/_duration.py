"""Go duration syntax (``time.ParseDuration``), so ``--full-resync-period 1m30s`` means what it
meant to the Go command.

A duration is an optional sign and one or more decimal numbers each followed by a unit (``ns``,
``us``/``µs``, ``ms``, ``s``, ``m``, ``h``): ``300ms``, ``1.5h``, ``2h45m``.  ``0`` alone needs no
unit.  The result is in seconds (trio's unit).
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "parse_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


class DurationError(ValueError):
    """The text is not a Go duration; the message says why."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``.  Raises :class:`DurationError` with a message naming the text."""
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f'invalid duration "{text}" (use e.g. 30s, 1m30s, 500ms)')
    total = 0.0
    while rest:
        match = _PART.match(rest)
        assert match is not None  # the pattern matches the empty string
        number, unit = match.groups()
        if number in ("", "."):
            raise DurationError(f'invalid duration "{text}" (use e.g. 30s, 1m30s, 500ms)')
        if not unit:
            raise DurationError(f'missing unit in duration "{text}" (use e.g. {number}s)')
        if unit not in _UNITS:
            raise DurationError(
                f'unknown unit "{unit}" in duration "{text}" (units: ns, us, ms, s, m, h)'
            )
        total += float(number) * _UNITS[unit]
        rest = rest[match.end() :]
    return sign * total
