"""Keep nursery-owning context managers from wrapping their body's exceptions in groups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["unwrap_single_exception"]


@contextmanager
def unwrap_single_exception() -> Iterator[None]:
    """Re-raise the only exception of an exception group as itself.

    An ``async with`` block that runs inside a nursery (our context managers keep background
    tasks in one) sees its own exceptions come out wrapped in an ``ExceptionGroup``, so a caller's
    ``except SpdyConnectionClosed`` around the block would never match.  The background tasks of
    these context managers do not raise (they turn I/O errors into a closed connection), so a
    group of one is the body's exception: raise that.  Genuine multi-errors stay grouped.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
