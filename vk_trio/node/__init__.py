"""vk_trio.node: the virtual node's controllers (pods, node status, lease, events).

:class:`VirtualNode` runs everything in the Go Virtual Kubelet's start-up order; the controllers
and the pure helpers they are built from are public too. docs/node.md explains how they fit
together; docs/differences.md lists where they deliberately differ from the Go version.
"""

from ._env import EnvEvent as EnvEvent
from ._env import EnvResult as EnvResult
from ._env import EnvSources as EnvSources
from ._env import is_env_var_name as is_env_var_name
from ._env import resolve_pod_env as resolve_pod_env
from ._events import NORMAL as NORMAL
from ._events import WARNING as WARNING
from ._events import EventRecorder as EventRecorder
from ._events import EventRecorderStatistics as EventRecorderStatistics
from ._expansion import expand as expand
from ._fieldref import DEFERRED_FIELD_PATHS as DEFERRED_FIELD_PATHS
from ._heartbeat import heartbeat_client as heartbeat_client
from ._heartbeat import heartbeat_timeout as heartbeat_timeout
from ._kube import KubeApi as KubeApi
from ._lease import LEASE_NAMESPACE as LEASE_NAMESPACE
from ._lease import LeaseController as LeaseController
from ._lease import LeaseStatistics as LeaseStatistics
from ._metrics import PodControllerMetrics as PodControllerMetrics
from ._node_controller import PING_FAILED_REASON as PING_FAILED_REASON
from ._node_controller import NodeController as NodeController
from ._node_controller import NodeControllerStatistics as NodeControllerStatistics
from ._node_object import DEFAULT_TAINT_KEY as DEFAULT_TAINT_KEY
from ._node_object import EXCLUDE_FROM_LOAD_BALANCERS_LABEL as EXCLUDE_FROM_LOAD_BALANCERS_LABEL
from ._node_object import KUBELET_VERSION_PREFIX as KUBELET_VERSION_PREFIX
from ._node_object import TAINT_EFFECTS as TAINT_EFFECTS
from ._node_object import Taint as Taint
from ._node_object import TaintError as TaintError
from ._node_object import build_node as build_node
from ._node_object import default_conditions as default_conditions
from ._node_object import mark_node_ready as mark_node_ready
from ._node_object import taint_from_env as taint_from_env
from ._node_status import LAST_APPLIED_META_ANNOTATION as LAST_APPLIED_META_ANNOTATION
from ._node_status import LAST_APPLIED_STATUS_ANNOTATION as LAST_APPLIED_STATUS_ANNOTATION
from ._node_status import node_status_patch as node_status_patch
from ._ping import PingController as PingController
from ._ping import PingResult as PingResult
from ._ping import PingStatistics as PingStatistics
from ._pod_controller import ENV_FAILED_REASON as ENV_FAILED_REASON
from ._pod_controller import PROVIDER_FAILED_REASON as PROVIDER_FAILED_REASON
from ._pod_controller import EventSink as EventSink
from ._pod_controller import PodController as PodController
from ._pod_controller import PodControllerStatistics as PodControllerStatistics
from ._podutil import is_running as is_running
from ._podutil import pod_key as pod_key
from ._podutil import pod_should_enqueue as pod_should_enqueue
from ._podutil import pods_effectively_equal as pods_effectively_equal
from ._podutil import pods_equal as pods_equal
from ._resources import ClusterLookups as ClusterLookups
from ._runtime_env import apply_runtime_fields as apply_runtime_fields
from ._runtime_env import deferred_env_names as deferred_env_names
from ._strategic import apply_strategic_patch as apply_strategic_patch
from ._strategic import three_way_merge_patch as three_way_merge_patch
from ._virtual_node import NodeClient as NodeClient
from ._virtual_node import NodeOptions as NodeOptions
from ._virtual_node import VirtualNode as VirtualNode
from ._virtual_node import VirtualNodeStatistics as VirtualNodeStatistics

__all__ = [
    "DEFAULT_TAINT_KEY",
    "DEFERRED_FIELD_PATHS",
    "ENV_FAILED_REASON",
    "EXCLUDE_FROM_LOAD_BALANCERS_LABEL",
    "KUBELET_VERSION_PREFIX",
    "LAST_APPLIED_META_ANNOTATION",
    "LAST_APPLIED_STATUS_ANNOTATION",
    "LEASE_NAMESPACE",
    "NORMAL",
    "PING_FAILED_REASON",
    "PROVIDER_FAILED_REASON",
    "TAINT_EFFECTS",
    "WARNING",
    "ClusterLookups",
    "EnvEvent",
    "EnvResult",
    "EnvSources",
    "EventRecorder",
    "EventRecorderStatistics",
    "EventSink",
    "KubeApi",
    "LeaseController",
    "LeaseStatistics",
    "NodeClient",
    "NodeController",
    "NodeControllerStatistics",
    "NodeOptions",
    "PingController",
    "PingResult",
    "PingStatistics",
    "PodController",
    "PodControllerMetrics",
    "PodControllerStatistics",
    "Taint",
    "TaintError",
    "VirtualNode",
    "VirtualNodeStatistics",
    "apply_runtime_fields",
    "apply_strategic_patch",
    "build_node",
    "default_conditions",
    "deferred_env_names",
    "expand",
    "heartbeat_client",
    "heartbeat_timeout",
    "is_env_var_name",
    "is_running",
    "mark_node_ready",
    "node_status_patch",
    "pod_key",
    "pod_should_enqueue",
    "pods_effectively_equal",
    "pods_equal",
    "resolve_pod_env",
    "taint_from_env",
    "three_way_merge_patch",
]
