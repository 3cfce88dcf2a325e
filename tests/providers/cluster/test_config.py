"""The cluster provider's configuration file: what it accepts; one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vk_trio.provider import InvalidInputError, ProviderConfig
from vk_trio_cluster import (
    ClusterConfig,
    create_provider,
    load_cluster_config,
    parse_cluster_config,
)

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: remote, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: admin, user: {token: abc}}]
contexts:
  - {name: remote, context: {cluster: remote, user: admin}}
  - {name: other, context: {cluster: remote, user: admin}}
current-context: remote
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "remote.kubeconfig"
    path.write_text(KUBECONFIG)
    return path


def parse(text: str, base: Path) -> ClusterConfig:
    return parse_cluster_config(text, base_dir=str(base))


def error(text: str, base: Path) -> str:
    with pytest.raises(InvalidInputError) as caught:
        parse(text, base)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_minimal_config_has_the_defaults(kubeconfig: Path) -> None:
    config = parse("kubeconfig: remote.kubeconfig", kubeconfig.parent)
    assert config.kubeconfig == str(kubeconfig)
    assert config.context is None
    assert config.remote_namespace == "{namespace}"
    assert dict(config.node_selector) == {}
    assert config.tolerations == ()
    assert config.capacity is None
    assert config.remote_namespace_for("team-a", "vk-1") == "team-a"


def test_full_config_in_yaml_and_in_json(kubeconfig: Path) -> None:
    yaml_text = f"""
kubeconfig: {kubeconfig}
context: other
remoteNamespace: "{{namespace}}-{{node}}"
nodeSelector: {{pool: offload}}
tolerations:
  - {{key: dedicated, operator: Equal, value: offload, effect: NoSchedule}}
  - {{operator: Exists}}
capacity: {{cpu: "64", memory: 256Gi, pods: 1000}}
"""
    config = parse(yaml_text, Path("/"))
    assert config.context == "other"
    assert config.remote_namespace_for("team-a", "vk-1") == "team-a-vk-1"
    assert dict(config.node_selector) == {"pool": "offload"}
    assert [dict(t) for t in config.tolerations] == [
        {"key": "dedicated", "operator": "Equal", "value": "offload", "effect": "NoSchedule"},
        {"operator": "Exists"},
    ]
    assert config.capacity is not None
    assert dict(config.capacity) == {"cpu": "64", "memory": "256Gi", "pods": "1000"}
    json_text = (
        f'{{"kubeconfig": "{kubeconfig}", "remoteNamespace": "vk-{{node}}", '
        '"capacity": {"cpu": "8"}}'
    )
    assert parse(json_text, Path("/")).remote_namespace_for("x", "n1") == "vk-n1"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("kubeconfig: remote.kubeconfig\nremoteNamespaces: x", "remoteNamespaces: unknown key"),
        ("context: remote", "kubeconfig: required"),
        ("kubeconfig: missing.yaml", "kubeconfig: cannot read"),
        ("kubeconfig: 3", "kubeconfig: must be a non-empty string"),
        ("kubeconfig: remote.kubeconfig\ncontext: nope", "context: 'nope' is not a context"),
        ("kubeconfig: remote.kubeconfig\nremoteNamespace: '{ns}'", "remoteNamespace:"),
        ("kubeconfig: remote.kubeconfig\nremoteNamespace: 'Big_{node}'", "remoteNamespace:"),
        ("kubeconfig: remote.kubeconfig\nnodeSelector: [a]", "nodeSelector: must be a map"),
        ("kubeconfig: remote.kubeconfig\nnodeSelector: {a: 'b c'}", "nodeSelector.a:"),
        ("kubeconfig: remote.kubeconfig\ntolerations: {a: b}", "tolerations: must be a list"),
        ("kubeconfig: remote.kubeconfig\ntolerations: [{key: a, oper: x}]", "tolerations[0].oper"),
        (
            "kubeconfig: remote.kubeconfig\ntolerations: [{key: a, operator: Maybe}]",
            "tolerations[0].operator",
        ),
        (
            "kubeconfig: remote.kubeconfig\ntolerations: [{key: a, effect: Evict}]",
            "tolerations[0].effect",
        ),
        (
            "kubeconfig: remote.kubeconfig\ntolerations: [{key: a, tolerationSeconds: x}]",
            "tolerations[0].tolerationSeconds",
        ),
        ("kubeconfig: remote.kubeconfig\ncapacity: {cpu: lots}", "capacity.cpu:"),
        ("kubeconfig: remote.kubeconfig\ncapacity: {cpu: '-1'}", "capacity.cpu:"),
        ("kubeconfig: remote.kubeconfig\ncapacity: 5", "capacity: must be a non-empty map"),
        ("- a\n- b", "must be a map with the keys"),
        ("kubeconfig: [unclosed", "not valid YAML"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_key(
    kubeconfig: Path, text: str, key: str
) -> None:
    assert key in error(text, kubeconfig.parent)


def test_a_file_that_is_not_a_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("just: text")
    assert "kubeconfig: " in error("kubeconfig: k", tmp_path)
    assert "is not a kubeconfig" in error("kubeconfig: k", tmp_path)


def test_generated_namespace_must_be_a_name(kubeconfig: Path) -> None:
    config = parse(
        "kubeconfig: remote.kubeconfig\nremoteNamespace: '{namespace}-{node}'", kubeconfig.parent
    )
    with pytest.raises(InvalidInputError, match="remoteNamespace"):
        config.remote_namespace_for("a" * 60, "node")


def test_factory_names_the_file_and_needs_one(kubeconfig: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--provider-config is required"):
        create_provider(ProviderConfig(provider_name="cluster", node_name="vk-1"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("kubeconfig: remote.kubeconfig\nfoo: 1\n")
    with pytest.raises(InvalidInputError) as caught:
        create_provider(
            ProviderConfig(provider_name="cluster", node_name="vk-1", config_path=str(bad))
        )
    assert str(caught.value).startswith(f"--provider-config {bad}: foo: unknown key")
    good = tmp_path / "good.yaml"
    good.write_text("kubeconfig: remote.kubeconfig\n")
    with pytest.raises(InvalidInputError, match="--nodename"):
        create_provider(
            ProviderConfig(provider_name="cluster", node_name="x" * 64, config_path=str(good))
        )
    provider = create_provider(
        ProviderConfig(provider_name="cluster", node_name="vk-1", config_path=str(good))
    )
    assert type(provider).__name__ == "ClusterProvider"
    assert load_cluster_config(str(good)).kubeconfig == str(kubeconfig)
