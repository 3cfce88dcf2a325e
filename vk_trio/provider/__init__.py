"""The provider interface: what a provider implements to become a virtual node.

A provider is an object implementing :class:`PodLifecycleHandler` (async ``create_pod``,
``update_pod``, ``delete_pod``, ``get_pod``, ``get_pod_status``, ``get_pods``) plus any of the
optional capabilities (:class:`PodNotifier`, :class:`NodeProvider`, :class:`NodeConfigurer`,
:class:`Runnable`, and the kubelet-API ones: logs, exec, attach, port-forward, stats, metrics).
A :data:`ProviderFactory` registered in the ``vk_trio.providers`` entry-point group builds it from
a :class:`ProviderConfig`.  See ``docs/provider.md`` for a complete example.

Pods are plain dicts typed with the ``TypedDict`` s of :mod:`vk_trio.provider.types` (``Pod`` is
also exported here); :mod:`vk_trio.provider.testing` is the conformance kit every provider passes.

This package is the bottom layer: it imports nothing else from ``vk_trio``.
"""

from . import types as types
from ._checks import check_provider as check_provider
from ._config import LateResourceLookup as LateResourceLookup
from ._config import ProviderConfig as ProviderConfig
from ._config import ResourceLookup as ResourceLookup
from ._converter import format_time as format_time
from ._converter import parse_time as parse_time
from ._errors import ContainerExitError as ContainerExitError
from ._errors import InvalidInputError as InvalidInputError
from ._errors import NotFoundError as NotFoundError
from ._errors import is_invalid_input as is_invalid_input
from ._errors import is_not_found as is_not_found
from ._logcontext import current_log_context as current_log_context
from ._logcontext import log_context as log_context
from ._protocols import NodeCallback as NodeCallback
from ._protocols import NodeConfigurer as NodeConfigurer
from ._protocols import NodeProvider as NodeProvider
from ._protocols import PodCallback as PodCallback
from ._protocols import PodLifecycleHandler as PodLifecycleHandler
from ._protocols import PodNotifier as PodNotifier
from ._protocols import Provider as Provider
from ._protocols import Runnable as Runnable
from ._registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from ._registry import ProviderEntry as ProviderEntry
from ._registry import ProviderFactory as ProviderFactory
from ._registry import ProviderLoadError as ProviderLoadError
from ._registry import ProviderRegistryError as ProviderRegistryError
from ._registry import UnknownProviderError as UnknownProviderError
from ._registry import list_providers as list_providers
from ._registry import load_provider_factory as load_provider_factory
from ._stats import ContainerStats as ContainerStats
from ._stats import CPUStats as CPUStats
from ._stats import MemoryStats as MemoryStats
from ._stats import MetricFamily as MetricFamily
from ._stats import MetricSample as MetricSample
from ._stats import NodeStats as NodeStats
from ._stats import PodReference as PodReference
from ._stats import PodStats as PodStats
from ._stats import Summary as Summary
from ._stats import summary_to_dict as summary_to_dict
from ._status import ContainerState as ContainerState
from ._status import ContainerStateRunning as ContainerStateRunning
from ._status import ContainerStateTerminated as ContainerStateTerminated
from ._status import ContainerStateWaiting as ContainerStateWaiting
from ._status import ContainerStatus as ContainerStatus
from ._status import HostIP as HostIP
from ._status import NodeAddress as NodeAddress
from ._status import NodeCondition as NodeCondition
from ._status import PodCondition as PodCondition
from ._status import PodIP as PodIP
from ._status import PodStatus as PodStatus
from ._status import node_condition_to_dict as node_condition_to_dict
from ._status import pod_status_from_dict as pod_status_from_dict
from ._status import pod_status_to_dict as pod_status_to_dict
from ._status import pod_with_status as pod_with_status
from ._streaming import AttachIO as AttachIO
from ._streaming import AttachProvider as AttachProvider
from ._streaming import ContainerLogOptions as ContainerLogOptions
from ._streaming import ContainerLogsProvider as ContainerLogsProvider
from ._streaming import ExecProvider as ExecProvider
from ._streaming import MetricsResourceProvider as MetricsResourceProvider
from ._streaming import PortForwardProvider as PortForwardProvider
from ._streaming import StatsSummaryProvider as StatsSummaryProvider
from ._streaming import TermSize as TermSize
from .types import Pod as Pod
