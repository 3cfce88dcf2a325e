"""Environment resolution (section 7 of the behaviour reference)."""

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from vk_trio.node._env import EnvEvent, EnvSources, is_env_var_name, resolve_pod_env

NS = "ns"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeSources:
    """In-memory ConfigMaps/Secrets/Services; names in ``broken`` raise on read."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.services: list[dict[str, Any]] = []
        self.broken: set[str] = set()
        self.service_reads: list[str] = []

    def add_config_map(self, name: str, data: dict[str, str], namespace: str = NS) -> None:
        self.config_maps[namespace, name] = {"metadata": {"name": name}, "data": data}

    def add_secret(self, name: str, data: dict[str, str], namespace: str = NS) -> None:
        encoded = {key: b64(value) for key, value in data.items()}
        self.secrets[namespace, name] = {"metadata": {"name": name}, "data": encoded}

    def add_service(self, namespace: str, name: str, ip: str, port: int) -> None:
        self.services.append(
            {
                "metadata": {"namespace": namespace, "name": name},
                "spec": {"clusterIP": ip, "ports": [{"port": port}]},
            }
        )

    def get_config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        if name in self.broken:
            raise RuntimeError("cache exploded")
        return self.config_maps.get((namespace, name))

    def get_secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        if name in self.broken:
            raise RuntimeError("cache exploded")
        return self.secrets.get((namespace, name))

    def list_services(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        self.service_reads.append(namespace)
        return [s for s in self.services if s["metadata"]["namespace"] == namespace]


def _typed(sources: FakeSources) -> EnvSources:
    return sources


def make_pod(
    *containers: dict[str, Any], group: str = "containers", links: bool | None = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": "vk", group: list(containers)}
    if links is not None:
        spec["enableServiceLinks"] = links
    return {
        "metadata": {"namespace": NS, "name": "pod", "uid": "u1", "labels": {"app": "x"}},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def env_of(
    pod: Mapping[str, Any] | None, group: str = "containers", index: int = 0
) -> dict[str, Any]:
    assert pod is not None
    container = pod["spec"][group][index]
    assert container["envFrom"] == []
    out: dict[str, Any] = {}
    for entry in container["env"]:
        out[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return out


def warning(reason: str, message: str) -> EnvEvent:
    return EnvEvent("Warning", reason, message)


@pytest.fixture
def sources() -> FakeSources:
    return FakeSources()


def test_plain_env_in_every_container_group(sources: FakeSources) -> None:
    for group in ("containers", "initContainers", "ephemeralContainers"):
        pod = make_pod({"name": "c", "env": [{"name": "A", "value": "1"}]}, group=group)
        result = resolve_pod_env(pod, _typed(sources))
        assert result.error is None
        assert env_of(result.pod, group) == {"A": "1"}


def test_input_pod_is_not_modified(sources: FakeSources) -> None:
    sources.add_config_map("cm", {"K": "v"})
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}
    pod = make_pod(container)
    result = resolve_pod_env(pod, _typed(sources))
    assert pod["spec"]["containers"][0] == {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}],
    }
    assert env_of(result.pod) == {"K": "v"}


def test_env_from_with_prefixes_and_later_sources_winning(sources: FakeSources) -> None:
    sources.add_config_map("one", {"A": "cm1", "B": "cm1"})
    sources.add_config_map("two", {"B": "cm2"})
    sources.add_secret("sec", {"S": "secret value"})
    container = {
        "name": "c",
        "envFrom": [
            {"configMapRef": {"name": "one"}},
            {"configMapRef": {"name": "two"}},
            {"secretRef": {"name": "sec"}, "prefix": "P_"},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {"A": "cm1", "B": "cm2", "P_S": "secret value"}
    assert result.events == ()


def test_invalid_keys_are_skipped_with_one_event_per_source(sources: FakeSources) -> None:
    sources.add_config_map("cm", {"1INVALID": "x", "VALID": "y", "ALSO BAD": "z"})
    sources.add_secret("sec", {"2BAD": "x", "GOOD": "y"})
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "sec"}}],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {"VALID": "y", "GOOD": "y"}
    assert result.events == (
        warning(
            "InvalidEnvironmentVariableNames",
            "keys [1INVALID, ALSO BAD] from configmap ns/cm were skipped since they are invalid "
            "as environment variable names",
        ),
        warning(
            "InvalidEnvironmentVariableNames",
            "keys [2BAD] from secret ns/sec were skipped since they are invalid as environment "
            "variable names",
        ),
    )


def test_env_overrides_env_from_and_can_reference_it(sources: FakeSources) -> None:
    sources.add_config_map("cm", {"HOST": "db", "PORT": "5432"})
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "env": [
            {"name": "PORT", "value": "6543"},
            {"name": "URL", "value": "pg://$(HOST):$(PORT)/$(MISSING)"},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {"HOST": "db", "PORT": "6543", "URL": "pg://db:6543/$(MISSING)"}


def test_composing_and_empty_values(sources: FakeSources) -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "b"},
            {"name": "AB", "value": "$(A)$(B)"},
            {"name": "EMPTY", "value": ""},
            {"name": "NOVALUE"},
            {"name": "ESCAPED", "value": "$$(A)"},
            {"name": "FORWARD", "value": "$(LATER)"},
            {"name": "LATER", "value": "l"},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {
        "A": "a",
        "B": "b",
        "AB": "ab",
        "EMPTY": "",
        "NOVALUE": "",
        "ESCAPED": "$(A)",
        "FORWARD": "$(LATER)",
        "LATER": "l",
    }


def test_key_refs_are_not_expanded(sources: FakeSources) -> None:
    sources.add_config_map("cm", {"k": "$(A)"})
    sources.add_secret("sec", {"k": "s3cr3t"})
    container = {
        "name": "c",
        "env": [
            {"name": "A", "value": "a"},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "FROM_SEC", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {"A": "a", "FROM_CM": "$(A)", "FROM_SEC": "s3cr3t"}


@pytest.mark.parametrize(("kind", "title"), [("configMap", "ConfigMap"), ("secret", "Secret")])
def test_optional_missing_objects_and_keys(sources: FakeSources, kind: str, title: str) -> None:
    label = kind.lower()
    if kind == "configMap":
        sources.add_config_map("present", {"other": "x"})
    else:
        sources.add_secret("present", {"other": "x"})
    container = {
        "name": "c",
        "envFrom": [{f"{kind}Ref": {"name": "gone", "optional": True}}],
        "env": [
            {
                "name": "V1",
                "valueFrom": {f"{kind}KeyRef": {"name": "gone", "key": "k", "optional": True}},
            },
            {
                "name": "V2",
                "valueFrom": {f"{kind}KeyRef": {"name": "present", "key": "k", "optional": True}},
            },
            {"name": "KEPT", "value": "yes"},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.error is None
    assert env_of(result.pod) == {"KEPT": "yes"}
    assert result.events == (
        warning(f"Optional{title}NotFound", f'{label} "gone" not found'),
        warning(
            f"Optional{title}NotFound", f'skipping optional envvar "V1": {label} "gone" not found'
        ),
        warning(
            f"Optional{title}KeyNotFound",
            f'skipping optional envvar "V2": key "k" does not exist in {label} "present"',
        ),
    )


@pytest.mark.parametrize(("kind", "title"), [("configMap", "ConfigMap"), ("secret", "Secret")])
def test_mandatory_missing_object_in_env_from(sources: FakeSources, kind: str, title: str) -> None:
    label = kind.lower()
    container = {"name": "c", "envFrom": [{f"{kind}Ref": {"name": "gone"}}]}
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.pod is None
    assert result.error == f'{label} "gone" not found'
    assert result.reason == f"Mandatory{title}NotFound"
    assert result.events == (warning(f"Mandatory{title}NotFound", f'{label} "gone" not found'),)


@pytest.mark.parametrize(("kind", "title"), [("configMap", "ConfigMap"), ("secret", "Secret")])
def test_mandatory_missing_key(sources: FakeSources, kind: str, title: str) -> None:
    label = kind.lower()
    if kind == "configMap":
        sources.add_config_map("present", {"other": "x"})
    else:
        sources.add_secret("present", {"other": "x"})
    container = {
        "name": "c",
        "env": [{"name": "V", "valueFrom": {f"{kind}KeyRef": {"name": "present", "key": "k"}}}],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.error == f'{label} "present" doesn\'t contain the "k" key required by pod pod'
    assert result.events == (
        warning(f"Mandatory{title}KeyNotFound", f'key "k" does not exist in {label} "present"'),
    )


def test_mandatory_key_ref_to_missing_object(sources: FakeSources) -> None:
    container = {
        "name": "c",
        "env": [
            {
                "name": "V",
                "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": False}},
            }
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.error == 'secret "gone" not found'
    assert result.events == (warning("MandatorySecretNotFound", 'secret "gone" not found'),)


def test_read_failures(sources: FakeSources) -> None:
    sources.broken.add("flaky")
    optional = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "flaky", "optional": True}}],
        "env": [
            {
                "name": "V",
                "valueFrom": {"secretKeyRef": {"name": "flaky", "key": "k", "optional": True}},
            }
        ],
    }
    result = resolve_pod_env(make_pod(optional), _typed(sources))
    assert result.error is None
    assert result.events == (
        warning("FailedToReadOptionalConfigMap", 'failed to read configmap "flaky"'),
        warning(
            "FailedToReadOptionalSecret",
            'skipping optional envvar "V": failed to read secret "flaky"',
        ),
    )
    mandatory = {"name": "c", "envFrom": [{"configMapRef": {"name": "flaky"}}]}
    result = resolve_pod_env(make_pod(mandatory), _typed(sources))
    assert result.error == 'failed to fetch configmap "flaky": cache exploded'
    assert result.events == (
        warning("FailedToReadMandatoryConfigMap", 'failed to read configmap "flaky"'),
    )
    key_ref = {
        "name": "c",
        "env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "flaky", "key": "k"}}}],
    }
    result = resolve_pod_env(make_pod(key_ref), _typed(sources))
    assert result.error == 'failed to read configmap "flaky": cache exploded'


def test_first_failure_aborts_the_pod_but_earlier_events_are_kept(sources: FakeSources) -> None:
    pod = make_pod(
        {"name": "a", "envFrom": [{"secretRef": {"name": "opt", "optional": True}}]},
        {"name": "b", "envFrom": [{"secretRef": {"name": "must"}}]},
        {"name": "c", "envFrom": [{"secretRef": {"name": "never-read"}}]},
    )
    result = resolve_pod_env(pod, _typed(sources))
    assert result.pod is None
    assert [event.reason for event in result.events] == [
        "OptionalSecretNotFound",
        "MandatorySecretNotFound",
    ]


def test_service_links(sources: FakeSources) -> None:
    sources.add_service("default", "kubernetes", "10.0.0.1", 443)
    sources.add_service("default", "elsewhere", "10.0.0.2", 80)
    sources.add_service(NS, "mine", "10.0.0.3", 8080)
    sources.add_service("other", "theirs", "10.0.0.4", 80)
    container = {"name": "c", "env": [{"name": "MINE_SERVICE_HOST", "value": "explicit"}]}

    enabled = env_of(resolve_pod_env(make_pod(container, links=None), _typed(sources)).pod)
    assert enabled["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"
    assert enabled["KUBERNETES_PORT_443_TCP"] == "tcp://10.0.0.1:443"
    assert enabled["MINE_SERVICE_HOST"] == "explicit"  # explicit env wins
    assert enabled["MINE_SERVICE_PORT"] == "8080"
    assert not any(name.startswith(("ELSEWHERE", "THEIRS")) for name in enabled)

    disabled = env_of(resolve_pod_env(make_pod(container, links=False), _typed(sources)).pod)
    assert {name.split("_")[0] for name in disabled} == {"KUBERNETES", "MINE"}
    assert disabled["MINE_SERVICE_HOST"] == "explicit"
    assert "MINE_SERVICE_PORT" not in disabled


def test_service_vars_are_available_to_expansion(sources: FakeSources) -> None:
    sources.add_service("default", "kubernetes", "10.0.0.1", 443)
    container = {"name": "c", "env": [{"name": "API", "value": "$(KUBERNETES_SERVICE_HOST)"}]}
    env = env_of(resolve_pod_env(make_pod(container), _typed(sources)).pod)
    assert env["API"] == "10.0.0.1"


def test_services_in_the_default_namespace_are_read_once(sources: FakeSources) -> None:
    sources.add_service("default", "kubernetes", "10.0.0.1", 443)
    sources.add_service("default", "web", "10.0.0.9", 80)
    pod = make_pod({"name": "a"}, {"name": "b"}, links=True)
    pod["metadata"]["namespace"] = "default"
    env = env_of(resolve_pod_env(pod, _typed(sources)).pod, index=1)
    assert env["WEB_SERVICE_HOST"] == "10.0.0.9"
    assert sources.service_reads == ["default"]


def test_field_refs_resolved_and_deferred(sources: FakeSources) -> None:
    container = {
        "name": "c",
        "resources": {"limits": {"memory": "1Gi"}},
        "env": [
            {
                "name": "NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "URL", "value": "http://$(POD_IP):$(NAME)"},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {
                "name": "CPU",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
            },
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources), node_allocatable={"cpu": "2"})
    assert result.error is None
    assert env_of(result.pod) == {
        "NAME": "pod",
        "LABELS": 'app="x"',
        "POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
        "URL": "http://$(POD_IP):pod",
        "MEM": "1024",
        "CPU": "2000",
    }


def test_a_deferred_variable_overridden_later_is_a_plain_value(sources: FakeSources) -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "IP", "value": "fixed"},
        ],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.pod is not None
    assert result.pod["spec"]["containers"][0]["env"] == [{"name": "IP", "value": "fixed"}]


def test_bad_field_ref_fails_with_an_event(sources: FakeSources) -> None:
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}],
    }
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert result.error == "field label not supported: spec.nope"
    assert result.events == (
        warning("FailedToResolveFieldRef", "field label not supported: spec.nope"),
    )


def test_unknown_value_from_is_omitted_with_an_event(sources: FakeSources) -> None:
    container = {"name": "c", "env": [{"name": "X", "valueFrom": {"fileKeyRef": {"path": "p"}}}]}
    result = resolve_pod_env(make_pod(container), _typed(sources))
    assert env_of(result.pod) == {}
    assert [event.reason for event in result.events] == ["UnsupportedEnvironmentVariableSource"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("A", True),
        ("a.b-c_d", True),
        ("_x", True),
        ("-x", True),
        ("1A", False),
        (".", False),
        ("..", False),
        ("..x", False),
        (".x", True),
        ("A B", False),
        ("", False),
    ],
)
def test_env_var_names(name: str, valid: bool) -> None:
    assert is_env_var_name(name) is valid
