"""Flags and environment into Settings: defaults, precedence, and every misconfiguration message."""

import inspect
import os
from pathlib import Path

import attrs
import pytest

import vk_trio.node
from vk_trio import __version__
from vk_trio.cli import (
    Address,
    Settings,
    SettingsError,
    Taint,
    parse_command_line,
    settings_from,
)
from vk_trio.cli._run import node_options
from vk_trio.cli._settings import DEFAULT_KUBELET_PORT, DEFAULT_TAINT_KEY
from vk_trio.kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient
from vk_trio.node import NodeOptions

from .conftest import NODE, Files

PROVIDERS = frozenset({"mock", "other"})


def load(
    files: Files, *argv: str, env: dict[str, str] | None = None, base: bool = True
) -> Settings:
    args = parse_command_line([*(files.argv() if base else []), *argv])
    environment = {**files.env(), **(env or {})}
    return settings_from(args, environment, providers=PROVIDERS)


def error(files: Files, *argv: str, env: dict[str, str] | None = None, base: bool = True) -> str:
    with pytest.raises(SettingsError) as info:
        load(files, *argv, env=env, base=base)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(info.value.source + ": ")
    return message


def test_defaults_match_the_go_command(files: Files) -> None:
    settings = load(files, "--provider", "mock", base=False)
    assert settings == Settings(
        provider="mock",
        provider_config=None,
        node_name="virtual-kubelet",
        operating_system="linux",
        kubeconfig=None,
        cluster_domain="cluster.local",
        pod_sync_workers=10,
        status_workers=10,
        full_resync_period=60.0,
        startup_timeout=None,
        stream_idle_timeout=30.0,
        stream_creation_timeout=30.0,
        taint=Taint("virtual-kubelet.io/provider", "mock", "NoSchedule"),
        log_level="info",
        log_format="text",
        metrics_address=Address("127.0.0.1", 10255),
        listen_address="",
        kubelet_port=10250,
        tls_cert_file=str(files.cert),
        tls_key_file=str(files.key),
        client_ca_file=None,
        anonymous_auth=False,
        pod_ip="",
        kube_api_qps=200.0,
        kube_api_burst=400,
        event_qps=50.0,
        event_burst=100,
    )
    assert settings.kubelet_version == f"v1.31.4-vk-{__version__}"
    assert settings.kubelet_address == Address("", 10250)


def test_every_flag_is_read(files: Files) -> None:
    settings = load(
        files,
        "--os=windows",
        "--kubeconfig",
        str(files.kubeconfig),
        "--cluster-domain",
        "example.org",
        "--pod-sync-workers",
        "4",
        "--status-workers=6",
        "--full-resync-period",
        "2m",
        "--startup-timeout",
        "90s",
        "--stream-idle-timeout",
        "1m",
        "--stream-creation-timeout",
        "5s",
        "--log-level",
        "DEBUG",
        "--log-format",
        "json",
        "--metrics-addr",
        "127.0.0.1:9100",
        "--listen-address",
        "::1",
        "--client-ca-file",
        str(files.ca),
        "--anonymous-auth",
        "--kube-api-qps",
        "50.5",
        "--kube-api-burst",
        "70",
        "--event-qps",
        "7.5",
        "--event-burst=9",
        "--namespace",
        "ignored",
        "--enable-node-lease",
    )
    assert settings.provider_config == str(files.mock_config)
    assert settings.node_name == NODE
    assert settings.operating_system == "windows"
    assert settings.kubeconfig == str(files.kubeconfig)
    assert settings.cluster_domain == "example.org"
    assert (settings.pod_sync_workers, settings.status_workers) == (4, 6)
    assert settings.full_resync_period == 120.0
    assert settings.startup_timeout == 90.0
    assert (settings.stream_idle_timeout, settings.stream_creation_timeout) == (60.0, 5.0)
    assert (settings.log_level, settings.log_format) == ("debug", "json")
    assert settings.metrics_address == Address("127.0.0.1", 9100)
    assert str(settings.kubelet_address) == "[::1]:10250"
    assert settings.client_ca_file == str(files.ca)
    assert settings.anonymous_auth is True
    assert (settings.kube_api_qps, settings.kube_api_burst) == (50.5, 70)
    assert (settings.event_qps, settings.event_burst) == (7.5, 9)


def test_every_variable_is_read(files: Files) -> None:
    settings = load(
        files,
        "--provider",
        "mock",
        base=False,
        env={
            "KUBECONFIG": str(files.kubeconfig),
            "DEFAULT_NODE_NAME": "from-env",
            "KUBELET_PORT": "10555",
            "APISERVER_CA_CERT_LOCATION": str(files.ca),
            "VKUBELET_POD_IP": "10.1.2.3",
            "VKUBELET_TAINT_KEY": "example.com/virtual",
            "VKUBELET_TAINT_VALUE": "yes",
            "VKUBELET_TAINT_EFFECT": "NoExecute",
        },
    )
    assert settings.kubeconfig == str(files.kubeconfig)
    assert settings.node_name == "from-env"
    assert settings.kubelet_port == 10555
    assert settings.client_ca_file == str(files.ca)
    assert settings.anonymous_auth is False  # off by default, with or without a client CA
    assert settings.pod_ip == "10.1.2.3"
    assert settings.taint == Taint("example.com/virtual", "yes", "NoExecute")


# -- precedence ------------------------------------------------------------------------------------


def test_nodename_flag_beats_default_node_name(files: Files) -> None:
    assert load(files, env={"DEFAULT_NODE_NAME": "env-name"}).node_name == NODE


def test_kubeconfig_flag_beats_the_variable(files: Files, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("x")
    env = {"KUBECONFIG": str(other)}
    assert load(files, "--kubeconfig", str(files.kubeconfig), env=env).kubeconfig == str(
        files.kubeconfig
    )
    assert load(files, env=env).kubeconfig == str(other)


def test_kubeconfig_variable_may_list_several_files(files: Files, tmp_path: Path) -> None:
    listed = os.pathsep.join([str(tmp_path / "missing"), str(files.kubeconfig)])
    assert load(files, env={"KUBECONFIG": listed}).kubeconfig == listed
    assert load(files, env={"KUBECONFIG": ""}).kubeconfig is None


def test_client_ca_flag_beats_the_variable(files: Files) -> None:
    env = {"APISERVER_CA_CERT_LOCATION": str(files.ca)}
    settings = load(files, "--client-ca-file", str(files.other_ca), env=env)
    assert settings.client_ca_file == str(files.other_ca)


def test_anonymous_auth_can_be_set_either_way(files: Files) -> None:
    with_ca = {"APISERVER_CA_CERT_LOCATION": str(files.ca)}
    assert load(files, "--anonymous-auth=true", env=with_ca).anonymous_auth is True
    assert load(files, "--anonymous-auth=false").anonymous_auth is False
    assert load(files, "--anonymous-auth=0").anonymous_auth is False
    # a boolean flag never takes the next word (Go flag rules): "0" is then a stray command
    assert error(files, "--anonymous-auth", "0") == (
        'command line: unknown command "0" (commands: version, providers)'
    )


def test_taint_variables_override_the_flag_and_provider_name(files: Files) -> None:
    assert load(files, "--taint", "flag.example/key").taint == Taint(
        "flag.example/key", "mock", "NoSchedule"
    )
    env = {"VKUBELET_TAINT_KEY": "env.example/key", "VKUBELET_TAINT_VALUE": ""}
    assert load(files, "--taint", "flag.example/key", env=env).taint == Taint(
        "env.example/key", "", "NoSchedule"
    )


@pytest.mark.parametrize("value", ["", "true", "1", "T"])
def test_disable_taint(files: Files, value: str) -> None:
    flag = "--disable-taint" + (f"={value}" if value else "")
    # a disabled taint ignores the taint variables entirely, as in Go
    env = {"VKUBELET_TAINT_EFFECT": "Bogus", "VKUBELET_TAINT_KEY": ""}
    assert load(files, flag, env=env).taint is None


def test_disable_taint_false_keeps_it(files: Files) -> None:
    assert load(files, "--disable-taint=false").taint is not None


def test_status_workers_default_to_pod_sync_workers(files: Files) -> None:
    assert load(files, "--pod-sync-workers", "3").status_workers == 3


def test_metrics_can_be_disabled_and_take_several_forms(files: Files) -> None:
    assert load(files, "--metrics-addr", "").metrics_address is None
    assert load(files, "--metrics-addr", "[::1]:9").metrics_address == Address("::1", 9)
    assert load(files, "--metrics-addr", "localhost:9").metrics_address == Address("localhost", 9)
    # the kubelet port on another address than the metrics one is fine
    settings = load(files, "--metrics-addr", "127.0.0.1:10250", "--listen-address", "127.0.0.2")
    assert settings.metrics_address == Address("127.0.0.1", 10250)


def test_flag_values_may_start_with_a_dash(files: Files) -> None:
    # Go's flag library takes the next word as a value flag's value, whatever it looks like.
    assert load(files, "--cluster-domain", "-odd").cluster_domain == "-odd"
    assert load(files, "--cluster-domain=--odd").cluster_domain == "--odd"


def test_zero_startup_timeout_means_wait_forever(files: Files) -> None:
    assert load(files, "--startup-timeout", "0").startup_timeout is None
    assert load(files, "--full-resync-period", "0").full_resync_period == 0.0


# -- every misconfiguration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--os", "Linux"],
            '--os: operating system "Linux" is not supported (use linux or windows)',
        ),
        (["--os", "darwin"], '--os: operating system "darwin" is not supported'),
        (["--provider", "nope"], '--provider: provider "nope" not found (available: mock, other)'),
        (["--provider", ""], "--provider: no provider given (see `vk-trio providers`)"),
        (["--provider-config", ""], "--provider-config: the path must not be empty"),
        (["--provider-config", "/no/such.json"], "--provider-config: cannot read /no/such.json: "),
        (["--provider-config", "/"], "--provider-config: / is a directory, not a file"),
        (
            ["--pod-sync-workers", "0"],
            "--pod-sync-workers: pod sync workers must be greater than 0",
        ),
        (["--pod-sync-workers", "-3"], "--pod-sync-workers: pod sync workers must be greater than"),
        (["--pod-sync-workers", "many"], '--pod-sync-workers: "many" is not a whole number'),
        (["--status-workers", "0"], "--status-workers: status workers must be greater than 0"),
        (["--full-resync-period", "1"], '--full-resync-period: missing unit in duration "1"'),
        (["--full-resync-period", "-1m"], '--full-resync-period: duration "-1m" must be greater'),
        (["--startup-timeout", "soon"], '--startup-timeout: invalid duration "soon"'),
        (["--stream-idle-timeout", "0"], '--stream-idle-timeout: duration "0" must be greater'),
        (["--stream-idle-timeout", "0s"], '--stream-idle-timeout: duration "0s" must be greater'),
        (["--stream-idle-timeout", "-0"], '--stream-idle-timeout: duration "-0" must be greater'),
        (
            ["--stream-idle-timeout", "0.5ns"],
            '--stream-idle-timeout: duration "0.5ns" must be greater than 0',
        ),
        (
            ["--stream-creation-timeout", "0h0m0.0s"],
            '--stream-creation-timeout: duration "0h0m0.0s" must be greater than 0',
        ),
        (["--stream-creation-timeout", "1d"], '--stream-creation-timeout: unknown unit "d"'),
        (["--log-level", "loud"], '--log-level: could not parse log level "loud"'),
        (["--log-format", "xml"], '--log-format: "xml" is not a log format (use text or json)'),
        (["--metrics-addr", "10255"], '--metrics-addr: "10255" is not HOST:PORT'),
        (["--metrics-addr", ":http"], '--metrics-addr: "http" is not a port number'),
        (["--metrics-addr", ":70000"], "--metrics-addr: port 70000 is out of range (0-65535)"),
        (["--metrics-addr", "example.com:1"], '--metrics-addr: "example.com" is not an IP address'),
        (["--metrics-addr", ":10250"], "--metrics-addr: port 10250 is already the kubelet port"),
        (["--listen-address", "all"], '--listen-address: "all" is not an IP address'),
        (["--kubeconfig", "/no/such/kubeconfig"], "--kubeconfig: /no/such/kubeconfig does not"),
        (["--nodename", ""], "--nodename: the node name must not be empty"),
        (["--nodename", "Bad_Name"], '--nodename: node name "Bad_Name" is not a valid DNS'),
        (["--taint", "bad key"], '--taint: taint key "bad key" is not a valid qualified name'),
        (["--taint", "a/b/c"], '--taint: taint key "a/b/c" is not a valid qualified name'),
        (["--disable-taint=maybe"], '--disable-taint: invalid boolean "maybe"'),
        (["--anonymous-auth=maybe"], '--anonymous-auth: invalid boolean "maybe"'),
        (["--client-ca-file", "/no/ca.crt"], "--client-ca-file: cannot read /no/ca.crt: "),
        (["--kube-api-qps", "0"], "--kube-api-qps: the request rate must be greater than 0"),
        (["--kube-api-qps", "fast"], '--kube-api-qps: "fast" is not a number'),
        (["--kube-api-qps", "nan"], "--kube-api-qps: the request rate must be greater than 0"),
        (["--kube-api-burst", "0"], "--kube-api-burst: the request burst must be greater than 0"),
        (["--event-qps", "-1"], "--event-qps: the request rate must be greater than 0"),
        (["--event-qps", "inf"], "--event-qps: the request rate must be greater than 0"),
        (["--event-qps", "lots"], '--event-qps: "lots" is not a number'),
        (["--event-burst", "x"], "--event-burst: "),
        (["--trace-exporter", "jaeger"], '--trace-exporter: tracing exporter "jaeger" not found'),
        (["--trace-sample-rate", "0.5"], '--trace-sample-rate: "0.5" is not a sample rate'),
        (["--trace-sample-rate", "101"], "--trace-sample-rate: the sample rate is a percentage"),
        (["--trace-sample-rate", "-1"], "--trace-sample-rate: the sample rate is a percentage"),
        (["--trace-service-name", " "], "--trace-service-name: the name must not be empty"),
        (["--trace-tag", "team"], '--trace-tag: "team" is not KEY=VALUE'),
        (["--trace-tag", "=x"], '--trace-tag: "=x" is not KEY=VALUE'),
        (["--trace-tag", "nodeName=x"], '--trace-tag: "nodeName" is set by vk-trio itself'),
    ],
)
def test_flag_misconfigurations(files: Files, argv: list[str], message: str) -> None:
    assert error(files, *argv).startswith(message)


def test_provider_value_invalid_as_taint_value(files: Files) -> None:
    message = error(files, "--provider", "other", env={"VKUBELET_TAINT_VALUE": "not valid!"})
    assert message == 'VKUBELET_TAINT_VALUE: taint value "not valid!" is not a valid label value'


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KUBELET_PORT": "abc"}, 'KUBELET_PORT: "abc" is not a port number'),
        ({"KUBELET_PORT": "0"}, "KUBELET_PORT: port 0 is out of range (1-65535)"),
        ({"KUBELET_PORT": "4294967296"}, "KUBELET_PORT: port 4294967296 is out of range"),
        ({"KUBELET_PORT": "10255"}, "--metrics-addr: port 10255 is already the kubelet port"),
        ({"VKUBELET_TAINT_EFFECT": "Bogus"}, 'VKUBELET_TAINT_EFFECT: taint effect "Bogus" is not'),
        (
            {"VKUBELET_TAINT_EFFECT": "noschedule"},
            'VKUBELET_TAINT_EFFECT: taint effect "noschedule"',
        ),
        ({"VKUBELET_TAINT_KEY": ""}, "VKUBELET_TAINT_KEY: the taint key must not be empty"),
        ({"VKUBELET_TAINT_KEY": "-x"}, 'VKUBELET_TAINT_KEY: taint key "-x" is not a valid'),
        ({"VKUBELET_TAINT_KEY": "Up.Case/x"}, 'VKUBELET_TAINT_KEY: taint key "Up.Case/x" is not'),
        ({"VKUBELET_TAINT_VALUE": "a" * 64}, "VKUBELET_TAINT_VALUE: taint value"),
        ({"VKUBELET_POD_IP": "pod"}, 'VKUBELET_POD_IP: "pod" is not an IP address'),
        ({"KUBECONFIG": "/no/such/file"}, "KUBECONFIG: no such file: /no/such/file"),
        (
            {"APISERVER_CERT_LOCATION": ""},
            "APISERVER_CERT_LOCATION: not set: the kubelet API needs",
        ),
        ({"APISERVER_KEY_LOCATION": ""}, "APISERVER_KEY_LOCATION: not set: the kubelet API needs"),
        ({"APISERVER_CERT_LOCATION": "/no/tls.crt"}, "APISERVER_CERT_LOCATION: cannot read /no/"),
        ({"APISERVER_KEY_LOCATION": "/no/tls.key"}, "APISERVER_KEY_LOCATION: cannot read /no/"),
        (
            {"APISERVER_CA_CERT_LOCATION": "/no/ca"},
            "APISERVER_CA_CERT_LOCATION: cannot read /no/ca",
        ),
    ],
)
def test_environment_misconfigurations(files: Files, env: dict[str, str], message: str) -> None:
    assert error(files, env=env).startswith(message)


def test_default_node_name_set_but_empty(files: Files) -> None:
    message = error(files, "--provider", "mock", base=False, env={"DEFAULT_NODE_NAME": ""})
    assert message == "DEFAULT_NODE_NAME: the node name must not be empty"


def test_certificate_problems(files: Files) -> None:
    def env(**kw: Path) -> dict[str, str]:
        return {k: str(v) for k, v in kw.items()}

    assert error(files, env=env(APISERVER_CERT_LOCATION=files.not_pem)) == (
        f"APISERVER_CERT_LOCATION: {files.not_pem} holds no PEM certificate"
    )
    assert error(files, env=env(APISERVER_KEY_LOCATION=files.not_pem)) == (
        f"APISERVER_KEY_LOCATION: {files.not_pem} holds no PEM private key"
    )
    assert error(files, env=env(APISERVER_KEY_LOCATION=files.other_key)) == (
        "APISERVER_CERT_LOCATION/APISERVER_KEY_LOCATION: "
        f"the key in {files.other_key} does not match the certificate"
    )
    # a key where the certificate should be
    assert error(files, env=env(APISERVER_CERT_LOCATION=files.key)).startswith(
        "APISERVER_CERT_LOCATION: "
    )
    assert error(files, env=env(APISERVER_CA_CERT_LOCATION=files.not_pem)) == (
        f"APISERVER_CA_CERT_LOCATION: {files.not_pem} holds no PEM certificate"
    )


def test_corrupt_certificate(files: Files, tmp_path: Path) -> None:
    broken = tmp_path / "broken.crt"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    message = error(files, env={"APISERVER_CERT_LOCATION": str(broken)})
    assert message.startswith(
        f"APISERVER_CERT_LOCATION/APISERVER_KEY_LOCATION: cannot load {broken}"
    )
    message = error(files, "--client-ca-file", str(broken))
    assert message.startswith(f"--client-ca-file: cannot load CA certificates from {broken}")


def test_registry_check_can_be_skipped(files: Files) -> None:
    args = parse_command_line(["--provider", "anything"])
    assert settings_from(args, files.env()).provider == "anything"


def test_settings_are_frozen(files: Files) -> None:
    settings = load(files)
    with pytest.raises(AttributeError):
        settings.node_name = "x"  # type: ignore[misc]


def test_cli_defaults_are_the_library_defaults(files: Files) -> None:
    # One source for every default the command shares with the library: the node's options and
    # the API client; the command maps its flags onto them.
    settings = load(files, "--provider", "mock", base=False)
    library = NodeOptions(node_name=settings.node_name)
    options = node_options(settings)
    for field in attrs.fields(NodeOptions):
        if field.name not in ("node_name", "provider_name", "taint", "kubelet_version"):
            assert getattr(options, field.name) == getattr(library, field.name), field.name
    client = inspect.signature(KubeClient).parameters
    assert settings.kube_api_qps == client["qps"].default == DEFAULT_QPS
    assert settings.kube_api_burst == client["burst"].default == DEFAULT_BURST
    assert settings.kubelet_port == library.daemon_port == DEFAULT_KUBELET_PORT
    assert settings.taint == Taint(DEFAULT_TAINT_KEY, "mock")
    assert isinstance(settings.taint, vk_trio.node.Taint)  # the node's Taint, not a twin


def test_metrics_port_zero_means_any_free_port(files: Files) -> None:
    assert load(files, "--metrics-addr", "127.0.0.1:0").metrics_address == Address("127.0.0.1", 0)
    assert load(files, "--metrics-addr", ":0").metrics_address == Address("", 0)
    # port 0 never collides with the kubelet port (the kernel picks another)
    assert load(files, "--metrics-addr", ":0", env={"KUBELET_PORT": "10250"}).metrics_address


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), True),
        (("--load-balancer-exclusion",), True),
        (("--load-balancer-exclusion=true",), True),
        (("--load-balancer-exclusion=false",), False),
        (("--load-balancer-exclusion=0",), False),
    ],
)
def test_load_balancer_exclusion_flag(files: Files, argv: tuple[str, ...], expected: bool) -> None:
    settings = load(files, *argv)
    assert settings.load_balancer_exclusion is expected
    assert node_options(settings).load_balancer_exclusion is expected


def test_load_balancer_exclusion_flag_takes_a_boolean(files: Files) -> None:
    message = error(files, "--load-balancer-exclusion=maybe")
    assert message == '--load-balancer-exclusion: invalid boolean "maybe" (use true or false)'


@pytest.mark.parametrize(
    ("argv", "exporter", "rate"),
    [
        ([], "none", None),
        (["--trace-exporter", "none"], "none", None),
        (["--trace-exporter", "otlp", "--trace-sample-rate", "always"], "otlp", 1.0),
        (["--trace-exporter", "none,otlp", "--trace-sample-rate", "never"], "otlp", 0.0),
        (["--trace-exporter", "otlp", "--trace-sample-rate", "25"], "otlp", 0.25),
        (["--trace-exporter", "otlp", "--trace-sample-rate", "100"], "otlp", 1.0),
    ],
)
def test_tracing_flags(files: Files, argv: list[str], exporter: str, rate: float | None) -> None:
    settings = load(files, *argv, "--trace-tag", "team=nodes", "--trace-tag", "tier=")
    assert settings.trace_exporter == exporter
    assert settings.trace_sample_rate == rate
    assert settings.trace_tags == {"team": "nodes", "tier": ""}
