"""``parallelize``: client-go's ``workqueue.ParallelizeUntil`` for trio, for one-off fan-out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sized
from typing import TypeVar

import trio

__all__ = ["parallelize"]

P = TypeVar("P")


async def parallelize(
    pieces: Iterable[P],
    work: Callable[[P], Awaitable[object]],
    *,
    workers: int,
) -> None:
    """``await work(piece)`` for every piece, at most *workers* at a time; return when all are done.

    The pieces are taken in order from one shared iterator, so a slow piece never holds up the
    others and a generator is consumed lazily (never more than *workers* pieces ahead).  Fewer
    tasks than *workers* are started when *pieces* is sized and shorter.

    Differences from client-go's ``ParallelizeUntil`` (which takes a context and a count):

    * Cancellation is trio's: put a cancel scope around the call (``trio.move_on_after`` …) and
      the pieces in flight are cancelled and no further piece is started.
    * Errors propagate: the first ``Exception`` from a piece stops handing out pieces, cancels
      the ones in flight and is raised, in an ``ExceptionGroup`` as trio's nurseries raise
      (``except* ValueError:`` catches it).  client-go has no errors to propagate (a work
      function there reports failures on its own) and lets a panic crash the process.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if isinstance(pieces, Sized):
        workers = min(workers, len(pieces))
    remaining = iter(pieces)

    async def worker() -> None:
        # The iterator is shared: trio runs one task at a time and next() does not await, so
        # every piece goes to exactly one worker.
        for piece in remaining:
            await work(piece)

    if workers == 0:
        await trio.lowlevel.checkpoint()
        return
    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(worker)
