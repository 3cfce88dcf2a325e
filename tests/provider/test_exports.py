"""The public surface of vk_trio.provider is deliberate: adding or removing a name is a decision."""

import vk_trio.provider

EXPECTED = {
    # protocols and callback types
    "PodLifecycleHandler",
    "Provider",
    "PodNotifier",
    "NodeProvider",
    "NodeConfigurer",
    "Runnable",
    "PodCallback",
    "NodeCallback",
    "ContainerLogsProvider",
    "ExecProvider",
    "AttachProvider",
    "PortForwardProvider",
    "StatsSummaryProvider",
    "MetricsResourceProvider",
    "AttachIO",
    "TermSize",
    "ContainerLogOptions",
    # configuration and registry
    "ProviderConfig",
    "ResourceLookup",
    "LateResourceLookup",
    "ProviderFactory",
    "ENTRY_POINT_GROUP",
    "ProviderEntry",
    "list_providers",
    "load_provider_factory",
    "ProviderRegistryError",
    "UnknownProviderError",
    "ProviderLoadError",
    # errors
    "NotFoundError",
    "InvalidInputError",
    "ContainerExitError",
    "is_not_found",
    "is_invalid_input",
    # typed values
    "PodStatus",
    "PodCondition",
    "PodIP",
    "HostIP",
    "ContainerStatus",
    "ContainerState",
    "ContainerStateWaiting",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "NodeCondition",
    "NodeAddress",
    "pod_status_to_dict",
    "pod_status_from_dict",
    "pod_with_status",
    "node_condition_to_dict",
    "format_time",
    "parse_time",
    "Summary",
    "NodeStats",
    "PodStats",
    "PodReference",
    "ContainerStats",
    "CPUStats",
    "MemoryStats",
    "MetricFamily",
    "MetricSample",
    "summary_to_dict",
    # logging context
    "log_context",
    "current_log_context",
    # the JSON shapes (TypedDicts) and the load-time check
    "types",
    "Pod",
    "check_provider",
}

# Submodules imported on demand (only by tests): they show up as attributes once imported.
ON_DEMAND = {"testing"}


def test_public_names() -> None:
    public = {name for name in vars(vk_trio.provider) if not name.startswith("_")}
    assert public - ON_DEMAND == EXPECTED


def test_the_types_namespace_holds_typeddicts_only() -> None:
    names = {name for name in vars(vk_trio.provider.types) if not name.startswith("_")}
    assert {"Pod", "ObjectMeta", "PodSpec", "Container", "Volume", "PodStatus"} <= names
    for name in names:
        value = getattr(vk_trio.provider.types, name)
        assert isinstance(value, type) and issubclass(value, dict), name
        assert getattr(value, "__total__", None) is False, name
    assert vk_trio.provider.Pod is vk_trio.provider.types.Pod


def test_public_names_say_where_they_come_from() -> None:
    for name in EXPECTED:
        value = getattr(vk_trio.provider, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("vk_trio"):
            assert module.startswith("vk_trio.provider"), name
