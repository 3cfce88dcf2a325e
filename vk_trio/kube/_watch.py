"""Watch streams: one HTTP response, one JSON event per line.

A watch is ``GET <collection>?watch=1`` answered with an endless chunked body of
``{"type": ..., "object": ...}`` lines.  :class:`WatchStream` is an async
context manager (it owns the response and closes it) whose iterator yields a
:class:`WatchEvent` per line, parsed with orjson.  It is a class, not an async
generator, so that no cancel scope is ever held across a ``yield``.

Endings: the server closes the stream after ``timeoutSeconds`` (iteration just
stops; watch again from the last resourceVersion); an ``ERROR`` event whose
Status says 410 Gone/Expired raises :class:`~vk_trio.kube.Gone` (relist); other
``ERROR`` events are yielded; a stream that sends nothing for ``read_timeout``
seconds (no events, no bookmarks) raises :class:`~vk_trio.kube.ApiConnectionError`
so that a silently dead connection is noticed.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, final

import attrs
import httpx
import orjson
import trio

from ._errors import ApiConnectionError, ApiError, Gone, error_from_response, error_from_status

__all__ = ["WatchEvent", "WatchStream"]


@final
@attrs.frozen(slots=True)
class WatchEvent:
    """One watch event: ``type`` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    type: str
    object: dict[str, Any]


@final
class WatchStream:
    """``async with`` it to open the watch; iterate the result for events (see module doc)."""

    def __init__(
        self,
        open_response: Callable[[], Any],
        *,
        read_timeout: float | None,
        own_timer: bool,
        on_close: Callable[[], None],
    ) -> None:
        self._open_response = open_response
        self._read_timeout = read_timeout
        self._own_timer = own_timer and read_timeout is not None
        self._on_close = on_close
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._lines: collections.deque[bytes] = collections.deque()
        self._partial = b""
        self._ended = False
        self.events = 0

    async def __aenter__(self) -> WatchStream:
        response: httpx.Response = await self._open_response()
        if response.status_code != 200:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            finally:
                await response.aclose()
            self._on_close()
            raise error_from_response(
                response.status_code, body, retry_after=response.headers.get("retry-after")
            )
        self._response = response
        self._chunks = response.stream.__aiter__()  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        response, self._response = self._response, None
        chunks, self._chunks = self._chunks, None
        if response is not None:
            self._ended = True
            try:
                with trio.CancelScope(shield=True):
                    # Close the body iterator first: an abandoned async generator would
                    # otherwise be finalised later, outside any task.
                    close = getattr(chunks, "aclose", None)
                    if close is not None:
                        await close()
                    await response.aclose()
            finally:
                self._on_close()

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        lines = self._lines
        while not lines:
            if self._ended:
                raise StopAsyncIteration
            chunk = await self._read_chunk()
            if chunk is None:
                self._ended = True
                if self._partial.strip():
                    lines.append(self._partial)
                self._partial = b""
                continue
            data = self._partial + chunk if self._partial else chunk
            parts = data.split(b"\n")
            self._partial = parts.pop()
            lines.extend(p for p in parts if p.strip())
        return self._parse(lines.popleft())

    async def _read_chunk(self) -> bytes | None:
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError("the watch is not open (use `async with`)")
        try:
            if self._own_timer:
                assert self._read_timeout is not None
                with trio.move_on_after(self._read_timeout) as scope:
                    return await chunks.__anext__()
                if scope.cancelled_caught:
                    raise ApiConnectionError(f"watch stalled: no data for {self._read_timeout:g} s")
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None
        except httpx.ReadTimeout as exc:
            raise ApiConnectionError(
                f"watch stalled: no data for {self._read_timeout:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise ApiConnectionError(f"watch stream broken: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, line: bytes) -> WatchEvent:
        try:
            raw = orjson.loads(line)
            kind = raw["type"]
            obj = raw["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ApiError(
                f"malformed watch event: {line[:200]!r}", reason="MalformedWatchEvent"
            ) from exc
        if not isinstance(kind, str) or not isinstance(obj, dict):
            raise ApiError(f"malformed watch event: {line[:200]!r}", reason="MalformedWatchEvent")
        self.events += 1
        if kind == "ERROR":
            error = error_from_status(obj)
            if isinstance(error, Gone):
                raise error
        return WatchEvent(kind, obj)
