"""Work queues with client-go semantics on trio (see ``docs/queue.md``).

Fair FIFO, stingy (an item is never processed by two workers at once), duplicates collapse,
delayed adds, rate-limited retries with client-go's limiters, Prometheus metrics with client-go's
names, and :func:`run_workers` for the usual worker loop.  No background tasks: constructing a
queue needs no nursery.  This package imports nothing else from ``vk_trio``.
"""

from ._delaying import DelayingQueue as DelayingQueue
from ._metrics import CounterMetric as CounterMetric
from ._metrics import GaugeMetric as GaugeMetric
from ._metrics import HistogramMetric as HistogramMetric
from ._metrics import MetricsProvider as MetricsProvider
from ._prometheus import PrometheusMetricsProvider as PrometheusMetricsProvider
from ._queue import QueueShutDown as QueueShutDown
from ._queue import QueueStatistics as QueueStatistics
from ._queue import WorkQueue as WorkQueue
from ._rate_limiters import BucketRateLimiter as BucketRateLimiter
from ._rate_limiters import ItemExponentialFailureRateLimiter as ItemExponentialFailureRateLimiter
from ._rate_limiters import ItemFastSlowRateLimiter as ItemFastSlowRateLimiter
from ._rate_limiters import MaxOfRateLimiter as MaxOfRateLimiter
from ._rate_limiters import RateLimiter as RateLimiter
from ._rate_limiters import WithMaxWaitRateLimiter as WithMaxWaitRateLimiter
from ._rate_limiters import default_controller_rate_limiter as default_controller_rate_limiter
from ._rate_limiters import default_item_based_rate_limiter as default_item_based_rate_limiter
from ._rate_limiting import RateLimitingQueue as RateLimitingQueue
from ._workers import run_workers as run_workers

__all__ = [
    "BucketRateLimiter",
    "CounterMetric",
    "DelayingQueue",
    "GaugeMetric",
    "HistogramMetric",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "MetricsProvider",
    "PrometheusMetricsProvider",
    "QueueShutDown",
    "QueueStatistics",
    "RateLimiter",
    "RateLimitingQueue",
    "WithMaxWaitRateLimiter",
    "WorkQueue",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
    "run_workers",
]
