"""``/containerLogs``: the query parameters, their validation texts, and the copy loop.

Parameters are parsed in the kubelet's order and the first problem is the 400 answer, worded as
Go words it.  Two deliberate differences from Virtual Kubelet: ``tailLines=0`` means "no lines"
(as for the real kubelet; VK cannot tell it from "unset"), and ``limitBytes`` is enforced here
as well as passed to the provider, so a provider that ignores it cannot exceed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import trio

from vk_trio.provider import ContainerLogOptions

from ..util import parse_go_bool, parse_go_int, parse_rfc3339
from ._http import HttpError

__all__ = ["copy_log_stream", "parse_log_options"]


def _first(query: Mapping[str, Sequence[str]], name: str) -> str:
    values = query.get(name)
    return values[0] if values else ""


def _bad(message: str) -> HttpError:
    return HttpError(400, message, newline=False)


def _int_param(query: Mapping[str, Sequence[str]], name: str) -> int | None:
    text = _first(query, name)
    if not text:
        return None
    try:
        return parse_go_int(text)
    except ValueError as exc:
        raise _bad(f'could not parse "{name}": {exc}') from None


def _bool_param(query: Mapping[str, Sequence[str]], name: str) -> bool:
    text = _first(query, name)
    if not text:
        return False
    try:
        return parse_go_bool(text)
    except ValueError as exc:
        raise _bad(f'could not parse "{name}": {exc}') from None


def parse_log_options(query: Mapping[str, Sequence[str]]) -> ContainerLogOptions:
    """Validate the ``/containerLogs`` query; :class:`HttpError` 400 with the kubelet's text."""
    tail_lines = _int_param(query, "tailLines")
    if tail_lines is not None and tail_lines < 0:
        raise _bad(f'"tailLines" is {tail_lines}')
    follow = _bool_param(query, "follow")
    limit_bytes = _int_param(query, "limitBytes")
    if limit_bytes is not None and limit_bytes < 1:
        raise _bad(f'"limitBytes" is {limit_bytes}')
    previous = _bool_param(query, "previous")
    since_seconds = _int_param(query, "sinceSeconds")
    if since_seconds is not None and since_seconds < 1:
        raise _bad(f'"sinceSeconds" is {since_seconds}')
    since_time = None
    if text := _first(query, "sinceTime"):
        try:
            since_time = parse_rfc3339(text)
        except ValueError as exc:
            raise _bad(f'could not parse "sinceTime": {exc}') from None
        if since_seconds is not None:
            raise _bad('both "sinceSeconds" and "sinceTime" are set')
    timestamps = _bool_param(query, "timestamps")
    return ContainerLogOptions(
        tail_lines=tail_lines,
        limit_bytes=limit_bytes,
        timestamps=timestamps,
        follow=follow,
        previous=previous,
        since_seconds=since_seconds,
        since_time=since_time,
    )


async def copy_log_stream(
    source: trio.abc.ReceiveStream,
    write: Callable[[bytes], Awaitable[None]],
    *,
    limit_bytes: int | None = None,
    chunk_size: int = 64 * 1024,
) -> int:
    """Copy ``source`` to ``write`` chunk by chunk (each chunk goes out at once, so ``follow``
    streams), stopping at EOF or after ``limit_bytes``; returns the bytes written."""
    written = 0
    while limit_bytes is None or written < limit_bytes:
        want = chunk_size if limit_bytes is None else min(chunk_size, limit_bytes - written)
        data = await source.receive_some(want)
        if not data:
            break
        if limit_bytes is not None and written + len(data) > limit_bytes:
            data = data[: limit_bytes - written]
        await write(bytes(data))
        written += len(data)
    return written
