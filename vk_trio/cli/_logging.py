"""Structured logs: ``text`` (logfmt-like, for people) or ``json`` (one object a line).

Every record carries the fields in force where it was emitted (``node``, ``namespace``, ``pod``,
... set with :func:`vk_trio.provider.log_context`) plus anything passed as ``extra=``.  Levels
use the Go command's names (``trace`` .. ``panic``); ``trace`` is a level below ``debug`` that also
lets the HTTP libraries' per-request logs through.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Final, Literal, TextIO

import orjson

from vk_trio.provider import current_log_context

__all__ = ["TRACE", "configure_logging", "level_number"]

TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS: Final = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
_NAMES: Final = {
    TRACE: "trace",
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_NOISY: Final = ("httpx", "httpcore", "hpack", "hypercorn.access")


def level_number(name: str) -> int:
    """The ``logging`` level of a Go-style level name (``warn`` -> ``WARNING``)."""
    return _LEVELS[name.lower()]


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, "vk_fields", {}))
    for key, value in record.__dict__.items():
        if key not in _STANDARD and key != "vk_fields":
            fields[key] = value
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{whole}.{int(record.msecs):03d}Z"


def _logfmt_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _ContextFilter(logging.Filter):
    """Snapshots the log context when the record is emitted (in the emitting task's context)."""

    def __init__(self, static: Mapping[str, object]) -> None:
        super().__init__()
        self._static = dict(static)

    def filter(self, record: logging.LogRecord) -> bool:
        record.vk_fields = {**self._static, **current_log_context()}
        return True


class TextFormatter(logging.Formatter):
    """``2024-01-02T03:04:05.678Z info  vk_trio.node: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        level = _NAMES.get(record.levelno, record.levelname.lower())
        line = f"{_timestamp(record)} {level:<7} {record.name}: {record.getMessage()}"
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a record: ``time``, ``level``, ``logger``, ``msg``, fields, ``error``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": _NAMES.get(record.levelno, record.levelname.lower()),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields(record).items():
            document.setdefault(key, value)
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


def configure_logging(
    level: str,
    fmt: Literal["text", "json"],
    *,
    stream: TextIO | None = None,
    fields: Mapping[str, object] | None = None,
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr) in format ``fmt``.

    ``fields`` are added to every record (e.g. ``{"node": name}``).  Calling it again replaces the
    handler installed before, so tests can reconfigure.  Returns the handler.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "vk_trio", False):
            root.removeHandler(old)
            old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.vk_trio = True  # type: ignore[attr-defined]
    handler.addFilter(_ContextFilter(fields or {}))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    number = level_number(level)
    root.addHandler(handler)
    root.setLevel(number)
    noisy_level = logging.DEBUG if number <= TRACE else max(number, logging.WARNING)
    for name in _NOISY:
        logging.getLogger(name).setLevel(noisy_level)
    return handler
