"""The public surface of vk_trio.node is deliberate: adding or removing a name is a decision."""

import vk_trio.node

EXPECTED = {
    # the whole node
    "VirtualNode",
    "VirtualNodeStatistics",
    "NodeOptions",
    "NodeClient",
    "KubeApi",
    # controllers
    "PodController",
    "PodControllerStatistics",
    "PodControllerMetrics",
    "EventSink",
    "ClusterLookups",
    "NodeController",
    "NodeControllerStatistics",
    "LeaseController",
    "LeaseStatistics",
    "PingController",
    "PingResult",
    "PingStatistics",
    "EventRecorder",
    "EventRecorderStatistics",
    # environment resolution
    "resolve_pod_env",
    "EnvSources",
    "EnvResult",
    "EnvEvent",
    "is_env_var_name",
    "expand",
    "heartbeat_client",
    "heartbeat_timeout",
    "apply_runtime_fields",
    "deferred_env_names",
    "DEFERRED_FIELD_PATHS",
    # pod predicates
    "pods_equal",
    "pod_should_enqueue",
    "pods_effectively_equal",
    "is_running",
    "pod_key",
    # the Node object and its status patch
    "build_node",
    "default_conditions",
    "mark_node_ready",
    "taint_from_env",
    "Taint",
    "TaintError",
    "node_status_patch",
    "three_way_merge_patch",
    "apply_strategic_patch",
    # constants
    "DEFAULT_TAINT_KEY",
    "EXCLUDE_FROM_LOAD_BALANCERS_LABEL",
    "TAINT_EFFECTS",
    "KUBELET_VERSION_PREFIX",
    "LAST_APPLIED_META_ANNOTATION",
    "LAST_APPLIED_STATUS_ANNOTATION",
    "LEASE_NAMESPACE",
    "NORMAL",
    "WARNING",
    "PING_FAILED_REASON",
    "PROVIDER_FAILED_REASON",
    "ENV_FAILED_REASON",
}


def test_public_names_are_exactly_the_expected_ones() -> None:
    assert set(vk_trio.node.__all__) == EXPECTED
    public = {name for name in dir(vk_trio.node) if not name.startswith("_")}
    assert public == EXPECTED
    for name in EXPECTED:
        assert getattr(vk_trio.node, name) is not None
