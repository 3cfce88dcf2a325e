"""When a failed request may be sent again, and how long to wait first.

The rules, in order:

1. **Throttled (429)** - any verb.  The server (priority and fairness, or a
   webhook) refused the request *before* running it, so repeating it cannot do
   anything twice.  Wait ``Retry-After`` (1 s if absent, capped at
   ``max_retry_after``), up to ``max_attempts`` attempts in all.
2. **Not sent** - any verb.  A connect failure, a TLS handshake failure or a
   pool timeout means no byte of the request reached the server.
3. **Transient failure after sending** (connection reset/EOF mid-answer, read
   timeout, 500/502/503/504, ``ServerTimeout``) - only *idempotent* requests,
   where running the request twice has the effect of running it once:

   * GET, HEAD, OPTIONS (get, list) - read only;
   * DELETE with a UID or resourceVersion precondition - the replay deletes
     that very object or fails with NotFound/Conflict; it can never delete a
     namesake created in between (an unconditional DELETE could);
   * PUT (update) whose body carries ``metadata.resourceVersion`` - the
     server's optimistic-concurrency check makes a replay after success fail
     with Conflict instead of writing twice (an unconditional PUT could
     silently overwrite a concurrent writer);
   * server-side apply (``application/apply-patch+yaml``) - declarative, the
     same apply twice yields the same object and field ownership.

   POST (create) and the other patches are never retried after they may have
   reached the server: a create may have created, a JSON patch may have
   appended, and a merge patch may clobber a change made in between.  Their
   callers (controllers with work queues) retry with fresh state instead.

Backoff for rules 2-3 is exponential with full jitter (``base * 2**n``, capped,
times a random factor in [0.5, 1]); time comes from trio's clock.
"""

from __future__ import annotations

import random
from typing import final

import attrs

from ._errors import ApiConnectionError, ApiError, InternalError, ServerTimeout, TooManyRequests

__all__ = ["RetryPolicy"]


@final
@attrs.frozen
class RetryPolicy:
    """Retry settings of a :class:`~vk_trio.kube.KubeClient` (see the module docstring).

    ``max_attempts`` counts the first try (1 disables retries).
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    backoff_base: float = 0.2
    backoff_cap: float = 5.0
    default_retry_after: float = 1.0
    max_retry_after: float = 60.0

    def delay(
        self, error: ApiError, attempt: int, *, idempotent: bool, sent: bool, rng: random.Random
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up now.

        ``attempt`` is the number of attempts made so far (1 after the first);
        ``sent`` is False when the request certainly never reached the server.
        """
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, TooManyRequests):
            wait = error.retry_after
            if wait is None:
                wait = self.default_retry_after
            return min(max(wait, 0.0), self.max_retry_after)
        if isinstance(error, ApiConnectionError):
            if sent and not idempotent:
                return None
        elif isinstance(error, ServerTimeout | InternalError):
            if not idempotent:
                return None
            if error.status_code not in (500, 502, 503, 504):
                return None
        else:
            return None
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        return float(ceiling * (0.5 + 0.5 * rng.random()))
