"""Terminal-resize events: a stream of JSON objects ``{"Width": w, "Height": h}``.

The kubelet decodes the resize stream with Go's ``json.Decoder`` into a struct of two ``uint16``
fields, so: values follow one another with optional whitespace, field names match
case-insensitively, unknown fields are ignored, missing ones are 0, and the first thing that is
not such an object ends resize handling.  :class:`ResizeDecoder` does the same incrementally (a
value may be split across reads, or several may share one).
"""

from __future__ import annotations

import json
from typing import final

import trio

from vk_trio.provider import TermSize

__all__ = ["ResizeDecodeError", "ResizeDecoder", "pump_resize_events"]

_MAX_PENDING = 4096
_WHITESPACE = b" \t\r\n"


class ResizeDecodeError(ValueError):
    """The resize stream carried something that is not a terminal size."""


def _dimension(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ResizeDecodeError(f"terminal dimension {value!r} is not a uint16")
    return value


@final
class ResizeDecoder:
    """Incremental decoder; :meth:`feed` returns the sizes completed by the new bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._error: ResizeDecodeError | None = None

    def feed(self, data: bytes | bytearray) -> list[TermSize]:
        """Sizes completed by ``data``.  A bad value raises :class:`ResizeDecodeError` - after
        the sizes before it have been returned, on the next call if need be (Go's decoder, too,
        delivers every good value before the bad one ends the stream)."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        sizes: list[TermSize] = []
        try:
            self._decode_available(sizes)
        except ResizeDecodeError as exc:
            self._error = exc
            if not sizes:
                raise
        return sizes

    @property
    def failed(self) -> bool:
        """A bad value was seen: nothing more will be decoded."""
        return self._error is not None

    def _decode_available(self, sizes: list[TermSize]) -> None:
        while True:
            start = 0
            while start < len(self._buffer) and self._buffer[start] in _WHITESPACE:
                start += 1
            del self._buffer[:start]
            if not self._buffer:
                return
            end = self._value_end()
            if end is None:
                if len(self._buffer) > _MAX_PENDING:
                    raise ResizeDecodeError("resize event too large")
                return
            raw = bytes(self._buffer[:end])
            del self._buffer[:end]
            sizes.append(self._decode(raw))

    def _value_end(self) -> int | None:
        """End offset of the JSON value at the start of the buffer, or None if incomplete."""
        buf = self._buffer
        first = buf[0]
        if first == ord("n"):  # null: Go leaves the zero value
            if len(buf) < 4:
                return None
            return 4
        if first != ord("{"):
            raise ResizeDecodeError("resize event is not a JSON object")
        depth = 0
        in_string = False
        escaped = False
        for index, byte in enumerate(buf):
            if in_string:
                if escaped:
                    escaped = False
                elif byte == 0x5C:  # backslash
                    escaped = True
                elif byte == 0x22:
                    in_string = False
            elif byte == 0x22:
                in_string = True
            elif byte in b"{[":
                depth += 1
            elif byte in b"}]":
                depth -= 1
                if depth == 0:
                    return index + 1
        return None

    @staticmethod
    def _decode(raw: bytes) -> TermSize:
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ResizeDecodeError(f"invalid resize event: {exc}") from None
        if value is None:
            return TermSize(0, 0)
        if not isinstance(value, dict):
            raise ResizeDecodeError("resize event is not a JSON object")
        width = height = 0
        for key, item in value.items():
            lowered = key.lower()
            if lowered == "width":
                width = _dimension(item)
            elif lowered == "height":
                height = _dimension(item)
        return TermSize(width, height)


async def pump_resize_events(
    source: trio.abc.ReceiveStream, sink: trio.MemorySendChannel[TermSize]
) -> None:
    """Decode sizes from ``source`` into ``sink`` until the stream ends or carries garbage; then
    close ``sink`` so the consumer sees the end."""
    decoder = ResizeDecoder()
    async with sink:
        try:
            while not decoder.failed and (data := await source.receive_some()):
                for size in decoder.feed(data):
                    await sink.send(size)
        except (ResizeDecodeError, trio.BrokenResourceError, trio.ClosedResourceError):
            return
