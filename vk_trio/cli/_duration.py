"""Go duration syntax (``time.ParseDuration``), so ``--full-resync-period 1m30s`` means what it
meant to the Go command.

A duration is an optional sign and one or more decimal numbers each followed by a unit (``ns``,
``us``/``µs``, ``ms``, ``s``, ``m``, ``h``): ``300ms``, ``1.5h``, ``2h45m``.  ``0`` alone needs no
unit.  The value is counted in whole nanoseconds, as Go's ``time.Duration`` is: a fraction
of a nanosecond is dropped (``0.5ns`` is zero, so a flag that must be greater than 0 refuses
it), and more than Go can hold (about 292 years) is an error.  The result is in seconds
(trio's unit).
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "parse_duration"]

#: Nanoseconds per unit.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NANOSECONDS = 2**63 - 1  # Go's time.Duration is an int64 count of nanoseconds
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
    total = 0
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
        whole, _, fraction = number.partition(".")
        scale = _UNITS[unit]
        # Exact integer arithmetic, truncating below one nanosecond as Go does.
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > _MAX_NANOSECONDS:
            raise DurationError(f'duration "{text}" is too long (at most about 292 years)')
        rest = rest[match.end() :]
    return sign * total / 1e9
