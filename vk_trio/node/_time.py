"""Wall-clock timestamps in the formats the Kubernetes API uses.

Controllers take a ``now`` callable (default :func:`utc_now`) so tests can pin the wall clock;
*durations* always come from trio's clock, never from these.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

__all__ = ["Now", "format_micro_time", "format_time", "parse_time", "utc_now"]

Now = Callable[[], _dt.datetime]


def utc_now() -> _dt.datetime:
    """The current UTC time (aware)."""
    return _dt.datetime.now(_dt.UTC)


def format_time(moment: _dt.datetime) -> str:
    """``metav1.Time``: RFC 3339 in UTC with whole seconds (``2024-01-02T03:04:05Z``)."""
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: _dt.datetime) -> str:
    """``metav1.MicroTime``: RFC 3339 in UTC with microseconds (leases, events)."""
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> _dt.datetime:
    """Parse a ``Time``/``MicroTime`` string (``Z`` or an offset) into an aware datetime."""
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
