"""Work queues with client-go semantics on trio (see ``docs/queue.md``).

Fair FIFO, stingy (an item is never processed by two workers at once), duplicates collapse,
delayed adds, rate-limited retries with client-go's limiters, ``join()`` until idle, Prometheus
metrics with client-go's names, :func:`run_workers` for the usual worker loop,
:class:`ThreadAdder` for adds from other threads and :func:`parallelize` for one-off fan-out.
No background tasks: constructing a queue needs no nursery.  This package imports nothing else
from ``vk_trio`` and needs only trio and attrs; ``prometheus_client`` is imported only when
:class:`PrometheusMetricsProvider` is first used (the ``vk-trio-queue[prometheus]`` extra).
"""

from typing import TYPE_CHECKING

from ._delaying import DelayingQueue as DelayingQueue
from ._metrics import CounterMetric as CounterMetric
from ._metrics import GaugeMetric as GaugeMetric
from ._metrics import HistogramMetric as HistogramMetric
from ._metrics import MetricsProvider as MetricsProvider
from ._parallelize import parallelize as parallelize
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
from ._threads import ThreadAdder as ThreadAdder
from ._workers import WorkerQueue as WorkerQueue
from ._workers import run_workers as run_workers

if TYPE_CHECKING:
    from ._prometheus import PrometheusMetricsProvider as PrometheusMetricsProvider


def __getattr__(name: str) -> object:
    # Imported on first use so that the queue alone does not need prometheus_client.
    if name == "PrometheusMetricsProvider":
        try:
            from ._prometheus import PrometheusMetricsProvider  # noqa: PLC0415
        except ModuleNotFoundError as exc:
            if exc.name != "prometheus_client":
                raise
            raise ModuleNotFoundError(
                "vk_trio.queue.PrometheusMetricsProvider needs prometheus_client:"
                " pip install 'vk-trio-queue[prometheus]'",
                name="prometheus_client",
            ) from exc
        return PrometheusMetricsProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


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
    "ThreadAdder",
    "WithMaxWaitRateLimiter",
    "WorkQueue",
    "WorkerQueue",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
    "parallelize",
    "run_workers",
]
