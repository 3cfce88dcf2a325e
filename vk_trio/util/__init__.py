"""The bottom layer: helpers every other part of vk_trio shares, one place for each.

* :class:`Backoff` and :func:`retry` - the one back-off policy value and the one attempt loop
  (trio's clock, so ``MockClock`` drives them);
* Go compatibility - :func:`go_quote` (``strconv.Quote``), ``strconv.Atoi``/``ParseBool``,
  ``FormatFloat('g', -1)`` and ``time.Parse(RFC3339)`` with Go's error texts, checked against Go;
* Kubernetes timestamps - :func:`format_time` (``metav1.Time``), :func:`format_micro_time`
  (``metav1.MicroTime``), :func:`parse_time`; a naive ``datetime`` is UTC everywhere.

Imports only the standard library, trio and attrs (enforced by import-linter), so every layer,
``vk_trio.queue`` aside (it imports nothing from vk_trio), may use it.
"""

from ._backoff import Backoff as Backoff
from ._backoff import RetryHook as RetryHook
from ._backoff import retry as retry
from ._gotext import format_go_float as format_go_float
from ._gotext import go_is_print as go_is_print
from ._gotext import go_quote as go_quote
from ._gotext import parse_go_bool as parse_go_bool
from ._gotext import parse_go_int as parse_go_int
from ._time import RFC3339_LAYOUT as RFC3339_LAYOUT
from ._time import Now as Now
from ._time import format_micro_time as format_micro_time
from ._time import format_time as format_time
from ._time import parse_rfc3339 as parse_rfc3339
from ._time import parse_time as parse_time
from ._time import utc_now as utc_now

__all__ = [
    "RFC3339_LAYOUT",
    "Backoff",
    "Now",
    "RetryHook",
    "format_go_float",
    "format_micro_time",
    "format_time",
    "go_is_print",
    "go_quote",
    "parse_go_bool",
    "parse_go_int",
    "parse_rfc3339",
    "parse_time",
    "retry",
    "utc_now",
]
