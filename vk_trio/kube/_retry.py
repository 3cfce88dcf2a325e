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

Backoff for rules 2-3 is exponential with jitter (``base * 2**n``, capped, times a random
factor in [0.5, 1]), expressed as a :class:`vk_trio.util.Backoff`; the loop is
:func:`vk_trio.util.retry`, the one attempt loop of vk_trio, so time comes from trio's clock.
"""

from __future__ import annotations

import random
from typing import final

import attrs

from ..util import Backoff
from ._errors import ApiConnectionError, ApiError, InternalError, ServerTimeout, TooManyRequests

__all__ = ["RetryPolicy"]


def _backoff(policy: RetryPolicy) -> Backoff:
    # min(cap, base * 2**n) * U[0.5, 1]  ==  min(cap/2, base/2 * 2**n) * (1 + U[0, 1])
    cap = policy.backoff_cap / 2
    return Backoff(min(policy.backoff_base / 2, cap), factor=2.0, cap=cap, jitter=1.0)


@final
@attrs.frozen
class RetryPolicy:
    """Retry settings of a :class:`~vk_trio.kube.KubeClient` (see the module docstring).

    ``max_attempts`` counts the first try (1 disables retries).
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    backoff_base: float = attrs.field(default=0.2, validator=attrs.validators.ge(0))
    backoff_cap: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    default_retry_after: float = 1.0
    max_retry_after: float = 60.0
    backoff: Backoff = attrs.field(
        init=False, default=attrs.Factory(_backoff, takes_self=True), eq=False, repr=False
    )
    """The waits of rules 2-3 as the one back-off policy value (derived, not an argument)."""

    def retryable(self, error: Exception, *, idempotent: bool) -> bool:
        """Whether ``error`` may be answered by sending the request again (rules 1-3)."""
        if isinstance(error, TooManyRequests):
            return True
        if isinstance(error, ApiConnectionError):
            return idempotent or not error.sent
        if isinstance(error, ServerTimeout | InternalError):
            return idempotent and error.status_code in (500, 502, 503, 504)
        return False

    def server_delay(self, error: Exception) -> float | None:
        """The wait the server asked for (429 ``Retry-After``, defaulted and capped), else None."""
        if not isinstance(error, TooManyRequests):
            return None
        wait = error.retry_after
        if wait is None:
            wait = self.default_retry_after
        return min(max(wait, 0.0), self.max_retry_after)

    def delay(
        self, error: ApiError, attempt: int, *, idempotent: bool, sent: bool, rng: random.Random
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up now.

        ``attempt`` is the number of attempts made so far (1 after the first);
        ``sent`` is False when the request certainly never reached the server.
        (The client's loop asks :meth:`retryable` and :meth:`server_delay` itself; this is the
        same decision as one call.)
        """
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, ApiConnectionError):
            if sent and not idempotent:
                return None
        elif not self.retryable(error, idempotent=idempotent):
            return None
        wait = self.server_delay(error)
        return wait if wait is not None else self.backoff.delay(attempt, rng)
