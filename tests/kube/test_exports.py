"""The public surface of vk_trio.kube is pinned: adding or removing a name is a conscious act."""

from __future__ import annotations

import pytest

from vk_trio import kube

EXPECTED = {
    "DEFAULT_BURST",
    "DEFAULT_QPS",
    "STREAM_EXTENSION",
    "AlreadyExists",
    "ApiConnectionError",
    "ApiError",
    "BadRequest",
    "ClientStatistics",
    "ConfigError",
    "Conflict",
    "Credentials",
    "Forbidden",
    "Gone",
    "HTTP11Transport",
    "InternalError",
    "Invalid",
    "KubeClient",
    "KubeConfig",
    "MethodNotAllowed",
    "NotFound",
    "PatchType",
    "PoolLimits",
    "RateLimiterStatistics",
    "RequestObserver",
    "RetryPolicy",
    "ServerTimeout",
    "StaticCredentials",
    "TokenBucket",
    "TooManyRequests",
    "TransportStatistics",
    "Unauthorized",
    "WatchEvent",
    "error_from_status",
    "load_config",
    "load_in_cluster_config",
    "resource_path",
}


def test_exports_are_pinned() -> None:
    assert set(kube.__all__) == EXPECTED
    public = {name for name in dir(kube) if not name.startswith("_")}
    assert public - EXPECTED <= {"annotations"}
    for name in EXPECTED:
        assert getattr(kube, name) is not None


def test_exported_classes_live_in_private_modules() -> None:
    for name in EXPECTED:
        value = getattr(kube, name)
        module = getattr(value, "__module__", None)
        if module is not None and isinstance(value, type):
            assert module.startswith("vk_trio.kube._"), name


def test_errors_share_one_base() -> None:
    for name in (
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "NotFound",
        "Forbidden",
        "Unauthorized",
        "TooManyRequests",
        "ServerTimeout",
        "InternalError",
        "ApiConnectionError",
        "BadRequest",
        "MethodNotAllowed",
    ):
        assert issubclass(getattr(kube, name), kube.ApiError)
    assert not issubclass(kube.ConfigError, kube.ApiError)


def test_former_transport_name_still_works_and_warns() -> None:
    # H11Transport never ran on h11 (it runs on vk-trio's own HTTP/1.1 codec): renamed.
    with pytest.warns(DeprecationWarning, match="renamed HTTP11Transport"):
        assert getattr(kube, "H11Transport") is kube.HTTP11Transport  # noqa: B009
    assert "H11Transport" not in kube.__all__
    with pytest.raises(AttributeError):
        getattr(kube, "NoSuchThing")  # noqa: B009
