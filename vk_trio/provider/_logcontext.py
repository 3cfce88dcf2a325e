"""Structured-log fields that follow the work: ``node``, ``namespace``, ``pod``, ...

The controllers wrap each unit of work (one pod sync, one provider call) in
``with log_context(namespace=..., pod=...):`` and every log record emitted inside it, including
records from the provider's own loggers, carries those fields.  The ``vk-trio`` log handler reads
them; any handler can, through :func:`current_log_context`.  It lives at the bottom layer so that
providers and every controller can use it.

Context variables are copied into each trio task when it is spawned, so fields set by a parent
reach the tasks it starts, and fields set inside one task never leak into another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

__all__ = ["current_log_context", "log_context"]

_EMPTY: Mapping[str, object] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, object]] = ContextVar("vk_trio_log_fields", default=_EMPTY)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every log record emitted inside the block (inner values win).

    A field given as ``None`` is removed for the duration of the block.
    """
    merged = dict(_FIELDS.get())
    for key, value in fields.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    token = _FIELDS.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _FIELDS.reset(token)


def current_log_context() -> Mapping[str, object]:
    """The fields in force right now (read-only)."""
    return _FIELDS.get()
