"""The mock's container logs: a few lines of history, and a new line every interval on follow.

History lines are stamped one minute apart, the last one when the pod was created, so
``--since`` has something to cut.  Every option of ``kubectl logs`` is honoured here
(``tailLines``, ``sinceSeconds``/``sinceTime``, ``timestamps``, ``limitBytes``, ``follow``); the
mock has no previous container instances, so ``previous`` is the upstream 400.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import final

import trio

from vk_trio.provider import ContainerLogOptions

__all__ = ["MockLogStream", "format_timestamp", "history_lines"]

HISTORY_SPACING = timedelta(minutes=1)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet stamps log lines (``--timestamps``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def default_line(namespace: str, pod: str, container: str, number: int) -> str:
    return f"mock log line {number} of {namespace}/{pod}/{container}"


def history_lines(
    namespace: str,
    pod: str,
    container: str,
    created: datetime,
    *,
    count: int,
    texts: Sequence[str] | None,
) -> list[tuple[datetime, str]]:
    """The stored lines of a container: ``texts`` if given, else ``count`` default lines."""
    if texts is None:
        texts = [default_line(namespace, pod, container, i) for i in range(1, count + 1)]
    total = len(texts)
    return [
        (created - HISTORY_SPACING * (total - 1 - index), text) for index, text in enumerate(texts)
    ]


@final
class MockLogStream(trio.abc.ReceiveStream):
    """A container's log as ``get_container_logs`` returns it (see the module docstring)."""

    def __init__(
        self,
        history: list[tuple[datetime, str]],
        options: ContainerLogOptions,
        *,
        wall_clock: Callable[[], datetime],
        interval: float,
        next_line: Callable[[int], str],
    ) -> None:
        cutoff: datetime | None = None
        if options.since_time is not None:
            cutoff = options.since_time
        elif options.since_seconds is not None:
            cutoff = wall_clock() - timedelta(seconds=options.since_seconds)
        lines = [(ts, text) for ts, text in history if cutoff is None or ts >= cutoff]
        if options.tail_lines is not None:
            lines = lines[len(lines) - options.tail_lines :] if options.tail_lines else []
        self._options = options
        self._wall_clock = wall_clock
        self._interval = interval
        self._next_line = next_line
        self._number = len(history)
        self._pending: deque[bytes] = deque(self._render(ts, text) for ts, text in lines)
        self._remaining = options.limit_bytes
        self._closed = False

    def _render(self, moment: datetime, text: str) -> bytes:
        prefix = format_timestamp(moment) + " " if self._options.timestamps else ""
        return f"{prefix}{text}\n".encode()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            raise trio.ClosedResourceError("log stream is closed")
        if self._remaining == 0:
            await trio.lowlevel.checkpoint()
            return b""
        if not self._pending:
            if not self._options.follow:
                await trio.lowlevel.checkpoint()
                return b""
            await trio.sleep(self._interval)
            if self._closed:
                raise trio.ClosedResourceError("log stream is closed")
            self._number += 1
            self._pending.append(self._render(self._wall_clock(), self._next_line(self._number)))
        else:
            await trio.lowlevel.checkpoint()
        chunk = self._pending.popleft()
        size = len(chunk)
        if max_bytes is not None:
            size = min(size, max_bytes)
        if self._remaining is not None:
            size = min(size, self._remaining)
            self._remaining -= size
        if size < len(chunk):
            self._pending.appendleft(chunk[size:])
        return chunk[:size]

    async def aclose(self) -> None:
        self._closed = True
        self._pending.clear()
        await trio.lowlevel.checkpoint()
