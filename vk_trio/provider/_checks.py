"""The load-time check of a provider object: the shapes ``runtime_checkable`` cannot see.

``isinstance(p, PodLifecycleHandler)`` only asks whether the method *names* exist.  A provider
whose ``create_pod`` is a plain ``def`` passes it and then fails on the first pod, deep inside a
worker, with ``TypeError: object NoneType can't be used in 'await' expression``; one whose ``run``
does not take ``task_status`` hangs the node's start-up.  :func:`check_provider` catches these
before anything starts and names the method, so the command can refuse the provider in one line.

Each capability is judged by the names the provider has: a method that exists must have the
shape of the protocol that uses it, because the node will call it as that protocol says.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._registry import ProviderLoadError

__all__ = ["check_provider"]

# method name -> the positional arguments the node passes (used to test the signature binds)
_ASYNC_METHODS: dict[str, int] = {
    # PodLifecycleHandler
    "create_pod": 1,
    "update_pod": 1,
    "delete_pod": 1,
    "get_pod": 2,
    "get_pod_status": 2,
    "get_pods": 0,
    # NodeProvider
    "ping": 0,
    # the kubelet-API capabilities
    "get_container_logs": 4,
    "run_in_container": 5,
    "attach_to_container": 4,
    "port_forward": 4,
    "get_stats_summary": 0,
    "get_metrics_resource": 0,
}
_REQUIRED = ("create_pod", "update_pod", "delete_pod", "get_pod", "get_pod_status", "get_pods")
_PLAIN_METHODS: dict[str, int] = {
    "notify_pods": 1,
    "notify_node_status": 1,
    "configure_node": 1,
}


def _binds(method: Callable[..., Any], count: int, **keywords: Any) -> str | None:
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # a builtin without a signature: cannot tell, accept it
        return None
    try:
        signature.bind(*([None] * count), **keywords)
    except TypeError as exc:
        return f"{signature}: {exc}"
    return None


def check_provider(provider: object) -> None:
    """Raise :class:`ProviderLoadError` naming the first method with the wrong shape.

    Checked: the six :class:`PodLifecycleHandler` methods exist and are coroutine functions;
    every other protocol method the provider has is a coroutine function if the protocol's is
    async, a plain (non-async) callable if it is not; every method accepts the arguments the
    node passes; ``run`` is a coroutine function callable as ``run(task_status=...)``.
    """
    kind = type(provider).__name__
    missing = [name for name in _REQUIRED if not hasattr(provider, name)]
    if missing:
        raise ProviderLoadError(
            f"{kind} is not a PodLifecycleHandler: it has no {', '.join(missing)}"
        )
    for name, count in _ASYNC_METHODS.items():
        method = getattr(provider, name, None)
        if method is None:
            continue
        if not callable(method):
            raise ProviderLoadError(f"{kind}.{name} is not callable")
        if not inspect.iscoroutinefunction(method):
            raise ProviderLoadError(f"{kind}.{name} must be a coroutine function (async def)")
        problem = _binds(method, count)
        if problem is not None:
            raise ProviderLoadError(f"{kind}.{name} does not take {count} arguments: {problem}")
    for name, count in _PLAIN_METHODS.items():
        method = getattr(provider, name, None)
        if method is None:
            continue
        if not callable(method):
            raise ProviderLoadError(f"{kind}.{name} is not callable")
        if inspect.iscoroutinefunction(method):
            raise ProviderLoadError(
                f"{kind}.{name} must be a plain function, not async (the node calls it once "
                "and does not await it)"
            )
        problem = _binds(method, count)
        if problem is not None:
            raise ProviderLoadError(f"{kind}.{name} does not take {count} argument: {problem}")
    run = getattr(provider, "run", None)
    if run is not None:
        if not callable(run) or not inspect.iscoroutinefunction(run):
            raise ProviderLoadError(
                f"{kind}.run must be a coroutine function (async def run(self, *, task_status))"
            )
        problem = _binds(run, 0, task_status=None)
        if problem is not None:
            raise ProviderLoadError(
                f"{kind}.run must accept the keyword argument task_status (the Runnable shape, "
                f"started with nursery.start): {problem}"
            )
