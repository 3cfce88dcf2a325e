"""An async Kubernetes API client on trio (see docs/client.md).

``load_config()`` finds and loads the client configuration (kubeconfig or
in-cluster, via the official ``kubernetes`` package's loader);
``KubeClient(config)`` speaks the REST verbs on any resource path with plain
dict objects, typed errors, retries and client-side rate limiting; its
transport, :class:`HTTP11Transport`, is an ``httpx`` transport on trio streams
with vk-trio's own small HTTP/1.1 codec (``_http11``) and a lean connection pool.
``H11Transport``, its former name (it never ran on the h11 library), still
works and warns (``DeprecationWarning``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._client import DEFAULT_BURST as DEFAULT_BURST
from ._client import DEFAULT_QPS as DEFAULT_QPS
from ._client import ClientStatistics as ClientStatistics
from ._client import KubeClient as KubeClient
from ._client import PatchType as PatchType
from ._client import RequestObserver as RequestObserver
from ._config import ConfigError as ConfigError
from ._config import KubeConfig as KubeConfig
from ._config import load_config as load_config
from ._config import load_in_cluster_config as load_in_cluster_config
from ._credentials import Credentials as Credentials
from ._credentials import StaticCredentials as StaticCredentials
from ._errors import AlreadyExists as AlreadyExists
from ._errors import ApiConnectionError as ApiConnectionError
from ._errors import ApiError as ApiError
from ._errors import BadRequest as BadRequest
from ._errors import Conflict as Conflict
from ._errors import Forbidden as Forbidden
from ._errors import Gone as Gone
from ._errors import InternalError as InternalError
from ._errors import Invalid as Invalid
from ._errors import MethodNotAllowed as MethodNotAllowed
from ._errors import NotFound as NotFound
from ._errors import ServerTimeout as ServerTimeout
from ._errors import TooManyRequests as TooManyRequests
from ._errors import Unauthorized as Unauthorized
from ._errors import error_from_status as error_from_status
from ._paths import resource_path as resource_path
from ._ratelimit import RateLimiterStatistics as RateLimiterStatistics
from ._ratelimit import TokenBucket as TokenBucket
from ._retry import RetryPolicy as RetryPolicy
from ._transport import STREAM_EXTENSION as STREAM_EXTENSION
from ._transport import HTTP11Transport as HTTP11Transport
from ._transport import PoolLimits as PoolLimits
from ._transport import TransportStatistics as TransportStatistics
from ._watch import WatchEvent as WatchEvent

__all__ = [
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
]

if not _TYPE_CHECKING:  # type checkers report the old name as missing: move to the new one

    def __getattr__(name: str) -> _Any:
        if name == "H11Transport":
            import warnings  # noqa: PLC0415 - only on the deprecated path

            warnings.warn(
                "vk_trio.kube.H11Transport was renamed HTTP11Transport (it runs on vk-trio's own "
                "HTTP/1.1 codec, not on h11)",
                DeprecationWarning,
                stacklevel=2,
            )
            return HTTP11Transport
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
