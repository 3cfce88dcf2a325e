"""The reflector's retry pacing: jittered exponential backoff and randomised watch timeouts.

The numbers are those of client-go's reflector (``tools/cache/reflector.go``): the first retry
waits 0.8 to 1.6 s, each further one doubles, up to a 30 s base (so 30 to 60 s with jitter, about
0.02 QPS per informer) — a fleet of informers that lost the API server at the same moment neither
hammers it nor comes back in lock step. Watch timeouts are randomised for the same reason: watches
opened together do not all expire together.
"""

from __future__ import annotations

import random
from typing import final

import trio

from .. import util

DEFAULT_INITIAL = 0.8
DEFAULT_CAP = 30.0
DEFAULT_FACTOR = 2.0
DEFAULT_JITTER = 1.0
DEFAULT_RESET_AFTER = 120.0


@final
class Backoff:
    """Exponential backoff with jitter that starts over after a quiet period.

    Each :meth:`next_delay` returns ``base * (1 + jitter * U[0, 1))`` and doubles ``base`` up to
    ``cap``. When no delay was asked for during ``reset_after`` seconds the base is back at
    ``initial``: a reflector that ran fine for a while starts its retries fast again, while one
    that keeps failing stays slow. (client-go ≥ 0.36 instead resets every 2 minutes counted from the
    previous reset, even while failing; the quiet-period rule of earlier releases was kept here
    because it never turns a persistent failure back into fast retries.) Time is trio's clock.
    """

    def __init__(
        self,
        *,
        initial: float = DEFAULT_INITIAL,
        cap: float = DEFAULT_CAP,
        factor: float = DEFAULT_FACTOR,
        jitter: float = DEFAULT_JITTER,
        reset_after: float = DEFAULT_RESET_AFTER,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or cap < initial or factor < 1 or jitter < 0:
            raise ValueError("backoff needs 0 < initial <= cap, factor >= 1, jitter >= 0")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self.policy = util.Backoff(initial, factor=factor, cap=cap, jitter=jitter)
        """The delays as vk_trio's one back-off policy value; this class adds the reset rule."""
        self._rng = rng or random.Random()
        self._step = 0
        self._last_request: float | None = None

    def next_delay(self) -> float:
        """The next sleep in seconds (advances the sequence)."""
        now = trio.current_time()
        if self._last_request is not None and now - self._last_request > self.reset_after:
            self._step = 0
        self._last_request = now
        self._step += 1
        return self.policy.delay(self._step, self._rng)

    def reset(self) -> None:
        """Start over at ``initial``."""
        self._step = 0
        self._last_request = None


def watch_timeout_seconds(min_timeout: float, rng: random.Random) -> int:
    """A watch's ``timeoutSeconds``: uniform in ``[min, 2 * min)``, whole seconds (client-go)."""
    return int(min_timeout + rng.random() * min_timeout)
