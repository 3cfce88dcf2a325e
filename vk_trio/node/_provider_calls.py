"""The pod controller's calls into the provider, in one place: timed, and with one meaning of
"not found".

The convention (see docs/provider.md): a provider signals a pod it does not know by raising
:class:`vk_trio.provider.NotFoundError`. Here that becomes ``None`` from :meth:`get_pod` and a
finished delete from :meth:`delete_pod` (a provider that keeps no state forgets its pods on a
restart; deleting a pod it does not have has nothing left to do). A provider that returns ``None``
instead breaks the contract: it is treated as not found, and logged once per method so its author
hears about it without a log line per pod.

Every call has a deadline (``timeout``, 120 s by default: the kubelet's runtime request timeout):
a hung provider call is cancelled and fails like any other, so the pod is retried with back-off
instead of holding a worker for ever (ten hung creates used to take all ten sync workers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar, cast, final

import trio

from vk_trio import tracing
from vk_trio.provider import PodLifecycleHandler, is_not_found

from ._metrics import PodControllerMetrics
from ._poller import StatusPoller

__all__ = ["ProviderCalls", "ProviderTimeoutError"]

T = TypeVar("T")

logger = logging.getLogger("vk_trio.node.pods")


class ProviderTimeoutError(TimeoutError):
    """A provider call ran past its deadline; it was cancelled and is retried like any failure."""


@final
class ProviderCalls:
    """The provider as the pod controller's workers see it.

    ``poller`` wraps providers without ``notify_pods``: deletes go through it so that it reports
    the pod terminated (nothing else would).
    """

    def __init__(
        self,
        provider: PodLifecycleHandler,
        *,
        poller: StatusPoller | None = None,
        metrics: PodControllerMetrics | None = None,
        timeout: float | None = None,
    ) -> None:
        self.provider = provider
        self.poller = poller
        self._metrics = metrics
        self._timeout = math.inf if timeout is None else timeout
        self._warned: set[str] = set()
        if tracing.enabled():
            self._plain_call = self._call
            self._call = self._traced_call  # type: ignore[method-assign]

    async def _traced_call(self, method: str, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """:meth:`_call` in a ``provider.<method>`` span (the child of the worker's span)."""
        first = args[0] if args else None
        if isinstance(first, dict):
            attributes = tracing.pod_attributes(first)
        elif len(args) == 2:
            attributes = tracing.pod_attributes(None, f"{args[0]}/{args[1]}")
        else:
            attributes = {}
        with tracing.span(f"provider.{method}", attributes):
            return await self._plain_call(method, call, *args)

    async def _call(self, method: str, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``call(*args)``, timed, and failed with :class:`ProviderTimeoutError` once it has
        run ``timeout`` seconds (cancelled: a provider call must be cancellable)."""
        with self.timer(method):
            # a bare cancel scope: ``fail_after`` costs a generator-based context manager more,
            # and this runs for every provider call of a 10,000-pod burst
            with trio.CancelScope(deadline=trio.current_time() + self._timeout):
                return await call(*args)
            raise ProviderTimeoutError(
                f"provider {method} did not answer within {self._timeout:g}s"
            )

    def timer(self, method: str) -> AbstractContextManager[None]:
        return self._metrics.time_provider(method) if self._metrics else nullcontext()

    def contract_violation(self, method: str) -> None:
        """``method`` returned ``None`` where the protocol says to raise ``NotFoundError``."""
        if method not in self._warned:
            self._warned.add(method)
            logger.warning(
                "provider %s.%s returned None for an unknown pod; the protocol says to raise "
                "vk_trio.provider.NotFoundError (treated as not found; logged once)",
                type(self.provider).__name__,
                method,
            )

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The provider's pod, or ``None`` if it does not have one."""
        try:
            pod = await self._call("get_pod", self.provider.get_pod, namespace, name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        if pod is None:
            self.contract_violation("get_pod")
        return cast("dict[str, Any] | None", pod)

    async def get_pods(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", await self._call("get_pods", self.provider.get_pods))

    async def create_pod(self, pod: dict[str, Any]) -> None:
        await self._call("create_pod", self.provider.create_pod, pod)

    async def update_pod(self, pod: dict[str, Any]) -> None:
        await self._call("update_pod", self.provider.update_pod, pod)

    async def delete_pod(self, pod: dict[str, Any], *, report: bool = True) -> None:
        """Delete ``pod`` in the provider; a pod the provider does not have counts as deleted.

        With ``report`` (graceful deletion of a pod the API still has) a polled provider's pod
        is reported terminated afterwards; without it (the pod is gone from the API) it is not.
        """
        call = cast("Callable[[dict[str, Any]], Awaitable[None]]", self.provider.delete_pod)
        if report and self.poller is not None:
            call = self.poller.delete_pod
        try:
            await self._call("delete_pod", call, pod)
        except Exception as exc:
            if not is_not_found(exc):
                raise
