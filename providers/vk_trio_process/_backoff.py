"""The kubelet's crash back-off for one container: 10 s, doubling, capped at 5 min.

The first restart after a crash is immediate; every further one waits the current delay, which
doubles up to the cap.  A container that ran for 10 minutes (twice the cap) without crashing
starts over at 10 s.  Times are trio's clock, so tests drive it with ``MockClock``.
"""

from __future__ import annotations

from typing import Final, final

import attrs

__all__ = ["INITIAL_DELAY", "MAX_DELAY", "RESET_AFTER", "CrashBackoff"]

INITIAL_DELAY: Final = 10.0
MAX_DELAY: Final = 300.0
RESET_AFTER: Final = 2 * MAX_DELAY


@final
@attrs.define
class CrashBackoff:
    """How long to wait before restarting a container that just exited (trio clock seconds)."""

    initial: float = INITIAL_DELAY
    maximum: float = MAX_DELAY
    reset_after: float = RESET_AFTER
    _next: float = 0.0

    def delay(self, ran_for: float) -> float:
        """The wait before the next start, given how long the last run lasted; advances."""
        if ran_for >= self.reset_after:
            self._next = 0.0
        delay = self._next
        self._next = self.initial if delay == 0.0 else min(delay * 2, self.maximum)
        return delay
