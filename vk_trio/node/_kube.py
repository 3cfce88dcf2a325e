"""The slice of the API client the node controllers use, as a protocol.

Controllers are typed against :class:`KubeApi` rather than the concrete client so unit tests can
hand them an in-memory fake; ``vk_trio.kube.KubeClient`` satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from vk_trio.kube import (
    AlreadyExists,
    ApiConnectionError,
    ApiError,
    Conflict,
    Forbidden,
    InternalError,
    NotFound,
    PatchType,
    ServerTimeout,
    TooManyRequests,
    resource_path,
)

__all__ = [
    "AlreadyExists",
    "ApiConnectionError",
    "ApiError",
    "Conflict",
    "Forbidden",
    "InternalError",
    "KubeApi",
    "NotFound",
    "PatchType",
    "ServerTimeout",
    "TooManyRequests",
    "is_transient",
    "resource_path",
]


class KubeApi(Protocol):
    """REST verbs on API paths; objects are JSON dicts; failures raise ``ApiError`` subclasses."""

    async def get(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]: ...

    async def create(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def update(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def patch(
        self,
        path: str,
        body: Any,
        *,
        patch_type: PatchType = ...,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]: ...

    async def delete(
        self,
        path: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]: ...


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying soon: connection trouble, throttling, server-side timeouts."""
    return isinstance(error, ApiConnectionError | TooManyRequests | ServerTimeout | InternalError)
