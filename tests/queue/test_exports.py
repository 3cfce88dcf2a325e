"""Pin the public surface of ``vk_trio.queue``: other code programs against these names."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import vk_trio.queue

PUBLIC = [
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


def test_all_lists_exactly_the_public_names_sorted() -> None:
    assert vk_trio.queue.__all__ == PUBLIC
    public_attrs = sorted(n for n in dir(vk_trio.queue) if not n.startswith("_"))
    # Private submodules show up as attributes too; everything else must be in __all__.
    assert [n for n in public_attrs if not inspect.ismodule(getattr(vk_trio.queue, n))] == PUBLIC


def test_every_public_name_has_a_docstring() -> None:
    for name in PUBLIC:
        assert inspect.getdoc(getattr(vk_trio.queue, name)), name


def test_fixed_signatures() -> None:
    q = vk_trio.queue
    sig = inspect.signature
    assert (
        str(sig(q.WorkQueue))
        == "(*, name: 'str | None' = None, metrics: 'MetricsProvider | None' = None) -> 'None'"
    )
    assert str(sig(q.DelayingQueue.add_after)) == "(self, item: 'T', delay: 'float') -> 'None'"
    assert str(sig(q.RateLimitingQueue)) == (
        "(rate_limiter: 'RateLimiter | None' = None, *, name: 'str | None' = None,"
        " metrics: 'MetricsProvider | None' = None) -> 'None'"
    )
    assert str(sig(q.ItemExponentialFailureRateLimiter)) == (
        "(base_delay: 'float', max_delay: 'float') -> 'None'"
    )
    assert str(sig(q.ItemFastSlowRateLimiter)) == (
        "(fast_delay: 'float', slow_delay: 'float', max_fast_attempts: 'int') -> 'None'"
    )
    assert list(sig(q.BucketRateLimiter).parameters)[:2] == ["qps", "burst"]
    assert str(sig(q.MaxOfRateLimiter)) == "(*limiters: 'RateLimiter') -> 'None'"
    assert str(sig(q.WithMaxWaitRateLimiter)) == (
        "(limiter: 'RateLimiter', max_delay: 'float') -> 'None'"
    )
    assert list(sig(q.PrometheusMetricsProvider).parameters) == ["registry", "const_labels"]
    assert str(sig(q.run_workers)).startswith(
        "(queue: 'RateLimitingQueue[T]', handler: 'Callable[[T], Awaitable[object]]', *,"
        " workers: 'int' = 1, max_retries: 'int | None' = None)"
    )
    for method in ["add", "get_nowait", "done", "shut_down", "statistics", "__len__"]:
        assert not inspect.iscoroutinefunction(getattr(q.WorkQueue, method)), method
    for method in ["get", "shut_down_with_drain", "__anext__"]:
        assert inspect.iscoroutinefunction(getattr(q.WorkQueue, method)), method
    assert isinstance(q.WorkQueue.shutting_down, property)
    assert issubclass(q.DelayingQueue, q.WorkQueue)
    assert issubclass(q.RateLimitingQueue, q.DelayingQueue)
    assert issubclass(q.QueueShutDown, Exception)
    for name in ["add_rate_limited", "forget", "num_requeues"]:
        assert callable(getattr(q.RateLimitingQueue, name))


def test_the_package_imports_nothing_else_from_vk_trio() -> None:
    # import-linter enforces this too; this keeps the promise visible next to the API.
    package_dir = Path(vk_trio.queue.__file__).parent
    for path in package_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, (path.name, node.module)
                if node.level == 0 and node.module:
                    assert not node.module.startswith("vk_trio"), (path.name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("vk_trio"), (path.name, alias.name)
