"""Raising the soft open-files limit to the hard one at start-up, as Go's runtime does.

Distributions start processes with a soft ``RLIMIT_NOFILE`` of 1,024 and a hard limit far
above it.  Every kubelet API connection, watch and pooled API connection is a descriptor; at
the soft limit ``accept`` and ``connect`` fail with EMFILE - and a Lease renewal that cannot
connect lets the node expire.  The hard limit is what the operator allows, so take all of it.
"""

from __future__ import annotations

import logging
import resource

__all__ = ["raise_open_file_limit"]

logger = logging.getLogger("vk_trio.cli")


def raise_open_file_limit() -> int:
    """Set the soft ``RLIMIT_NOFILE`` to the hard limit; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard in (resource.RLIM_INFINITY, soft):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        logger.warning("cannot raise the open files limit from %d to %d: %s", soft, hard, exc)
        return soft
    logger.debug("open files limit raised from %d to %d", soft, hard)
    return hard
