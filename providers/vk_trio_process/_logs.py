"""Container logs: written by vk-trio with a timestamp per line, read back for ``kubectl logs``.

Each run of a container (restart ``n``) has its own file, ``<n>.log``, in the container's log
directory, one line per output line in the CRI logging format::

    2026-12-05T08:41:02.123456789Z stdout F hello

(``P`` marks a partial line: output that did not end in a newline when it was read).  A file that
grows past ``max_bytes`` is rotated once (``<n>.log.1``), so a chatty process costs at most twice
that.  Keeping runs apart is what makes ``previous`` work: the previous run is file ``n - 1``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, final

import trio

from vk_trio.provider import ContainerLogOptions

__all__ = ["DEFAULT_MAX_BYTES", "LogFile", "LogReader", "format_timestamp", "log_path"]

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
FOLLOW_POLL: Final = 0.2


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds in UTC, as the kubelet stamps lines."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def _parse_timestamp(text: bytes) -> datetime | None:
    try:
        stamp = text.decode()
        return datetime.strptime(stamp[:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def log_path(directory: Path, run: int) -> Path:
    return directory / f"{run}.log"


@final
class LogFile:
    """The writer for one run of a container: appends stamped lines, rotates by size."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._max_bytes = max_bytes
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._partial: dict[str, bytes] = {}

    @property
    def path(self) -> Path:
        return self._path

    def write(self, stream: str, data: bytes, *, now: datetime | None = None) -> None:
        """Record ``data`` read from ``stream`` (``stdout``/``stderr``): complete lines as ``F``,
        a trailing piece without newline kept until more arrives (or flushed as ``P``)."""
        stamp = format_timestamp(now or datetime.now(UTC)).encode()
        data = self._partial.pop(stream, b"") + data
        *lines, rest = data.split(b"\n")
        out = [b"%s %s F %s\n" % (stamp, stream.encode(), line) for line in lines]
        if len(rest) >= 16 * 1024:
            out.append(b"%s %s P %s\n" % (stamp, stream.encode(), rest))
        elif rest:
            self._partial[stream] = rest
        if out:
            self._file.write(b"".join(out))
            self._file.flush()
            self._rotate()

    def flush_partial(self) -> None:
        """The stream ended: write what is left of an unterminated last line."""
        stamp = format_timestamp(datetime.now(UTC)).encode()
        for stream, rest in self._partial.items():
            self._file.write(b"%s %s F %s\n" % (stamp, stream.encode(), rest))
        self._partial.clear()
        self._file.flush()

    def _rotate(self) -> None:
        if self._file.tell() < self._max_bytes:
            return
        self._file.close()
        os.replace(self._path, self._path.with_name(self._path.name + ".1"))
        self._file = open(self._path, "ab")  # noqa: SIM115

    def close(self) -> None:
        self.flush_partial()
        self._file.close()


def _render(line: bytes, timestamps: bool) -> tuple[datetime | None, bytes] | None:
    parts = line.split(b" ", 3)
    if len(parts) < 4:
        return None
    stamp, _stream, tag, text = parts
    moment = _parse_timestamp(stamp)
    end = b"\n" if tag == b"F" else b""
    if timestamps:
        return moment, stamp + b" " + text + end
    return moment, text + end


@final
class LogReader(trio.abc.ReceiveStream):
    """One ``kubectl logs`` answer: the selected history, then (``follow``) new lines as they
    are written, until ``finished()`` says the run is over and everything has been sent."""

    def __init__(
        self,
        path: Path,
        options: ContainerLogOptions,
        *,
        finished: Callable[[], bool],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._options = options
        self._finished = finished
        cutoff: datetime | None = options.since_time
        if cutoff is None and options.since_seconds is not None:
            cutoff = now() - timedelta(seconds=options.since_seconds)
        history: list[bytes] = []
        rotated = path.with_name(path.name + ".1")
        for source in (rotated, path):
            try:
                history.extend(source.read_bytes().splitlines())
            except FileNotFoundError:
                continue
        self._offset = path.stat().st_size if path.exists() else 0
        rendered = [r for r in (_render(line, options.timestamps) for line in history) if r]
        if cutoff is not None:
            rendered = [r for r in rendered if r[0] is None or r[0] >= cutoff]
        if options.tail_lines is not None:
            rendered = rendered[len(rendered) - options.tail_lines :] if options.tail_lines else []
        self._path = path
        self._pending: deque[bytes] = deque(text for _, text in rendered)
        self._remaining = options.limit_bytes
        self._buffer = b""
        self._closed = False

    def _read_new(self) -> None:
        try:
            with open(self._path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._offset:  # rotated under us
                    self._offset = 0
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        data = self._buffer + data
        *lines, self._buffer = data.split(b"\n")
        for line in lines:
            rendered = _render(line, self._options.timestamps)
            if rendered is not None:
                self._pending.append(rendered[1])

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            raise trio.ClosedResourceError("log stream is closed")
        await trio.lowlevel.checkpoint()
        while not self._pending and self._remaining != 0:
            if not self._options.follow:
                return b""
            done = self._finished()
            self._read_new()
            if self._pending:
                break
            if done:
                return b""
            await trio.sleep(FOLLOW_POLL)
            if self._closed:
                raise trio.ClosedResourceError("log stream is closed")
        if self._remaining == 0:
            return b""
        chunk = self._pending.popleft()
        size = len(chunk) if max_bytes is None else min(len(chunk), max_bytes)
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
