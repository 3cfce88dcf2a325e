"""load_config: kubeconfig (files, inline data, contexts, tokens, token files, exec plugins),
in-cluster config, and one clear ConfigError for every broken setup."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import signal
import ssl
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
import trustme
import yaml

from vk_trio.kube import ConfigError, KubeClient, KubeConfig, load_config, load_in_cluster_config
from vk_trio.kube._credentials import LOAD_TIMEOUT, LoaderCredentials

from .httpserver import TestServer


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA()


def kubeconfig(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]],
    contexts: dict[str, tuple[str, str, str | None]],
    current: str | None = None,
) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [
            {"name": n, "context": {"cluster": c, "user": u, **({"namespace": ns} if ns else {})}}
            for n, (c, u, ns) in contexts.items()
        ],
    }
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def simple(
    path: Path, cluster: dict[str, Any], user: dict[str, Any], namespace: str | None = None
) -> Path:
    return kubeconfig(
        path,
        clusters={"c": cluster},
        users={"u": user},
        contexts={"ctx": ("c", "u", namespace)},
        current="ctx",
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_client_certificate_files_against_a_tls_server(
    nursery: trio.Nursery, tmp_path: Path, ca: trustme.CA, client_ca: trustme.CA
) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server = TestServer(ssl_context=server_ctx)
    await nursery.start(server.serve)

    cert = client_ca.issue_cert("vk.example", common_name="system:node:vk-1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    path = simple(
        tmp_path / "config",
        {"server": f"https://127.0.0.1:{server.port}", "certificate-authority": "ca.crt"},
        {"client-certificate": "client.crt", "client-key": "client.key"},
        namespace="team-a",
    )
    config = await load_config(str(path))
    assert config.server == f"https://127.0.0.1:{server.port}"
    assert config.namespace == "team-a"
    assert str(path) in config.source and "ctx" in config.source
    assert await config.credentials.authorization() is None
    async with KubeClient(config) as client:
        answer = await client.get("/api/v1/namespaces")
    assert answer["method"] == "GET"
    peer = server.seen[0].peer_cert
    assert peer is not None
    assert any(("commonName", "system:node:vk-1") in rdn for rdn in peer["subject"])


async def test_inline_data_token_and_tls_server_name(
    nursery: trio.Nursery, tmp_path: Path, ca: trustme.CA
) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kubernetes.default.svc").configure_cert(server_ctx)
    server = TestServer(ssl_context=server_ctx)
    await nursery.start(server.serve)
    path = simple(
        tmp_path / "config",
        {
            "server": f"https://127.0.0.1:{server.port}",
            "certificate-authority-data": b64(ca.cert_pem.bytes()),
            "tls-server-name": "kubernetes.default.svc",
        },
        {"token": "static-token"},
    )
    config = await load_config(str(path))
    assert config.tls_server_name == "kubernetes.default.svc"
    assert config.namespace == "default"
    async with KubeClient(config) as client:
        await client.get("/version")
    assert server.seen[0].headers["authorization"] == "Bearer static-token"


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def no_temp_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A temporary directory that must stay empty (what a read-only root filesystem without
    a writable /tmp would enforce): every temporary file would land here."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    return temp


async def test_inline_client_certificate_data_is_presented_without_temp_files(
    nursery: trio.Nursery,
    tmp_path: Path,
    ca: trustme.CA,
    client_ca: trustme.CA,
    no_temp_files: Path,
) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server = TestServer(ssl_context=server_ctx)
    await nursery.start(server.serve)
    cert = client_ca.issue_cert("vk.example", common_name="system:node:inline")
    path = simple(
        tmp_path / "config",
        {
            "server": f"https://127.0.0.1:{server.port}",
            "certificate-authority-data": b64(ca.cert_pem.bytes()),
            # data wins over a file of the same thing, which then is not even looked at
            "certificate-authority": str(tmp_path / "no-such-ca.crt"),
        },
        {
            "client-certificate-data": b64(cert.cert_chain_pems[0].bytes()),
            "client-key-data": b64(cert.private_key_pem.bytes()),
        },
    )
    config = await load_config(str(path))
    assert isinstance(config.credentials, LoaderCredentials)
    assert config.credentials.client_certificate is None  # no file names: nothing on disk
    async with KubeClient(config) as client:
        await client.get("/version")
    peer = server.seen[0].peer_cert
    assert peer is not None
    assert any(("commonName", "system:node:inline") in rdn for rdn in peer["subject"])
    assert listing(no_temp_files) == []
    assert listing(tmp_path) == ["config", "home", "tmp"]


async def test_inline_ca_data_in_der_and_bad_inline_data(
    tmp_path: Path, ca: trustme.CA, no_temp_files: Path
) -> None:
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())
    path = simple(
        tmp_path / "config",
        {"server": "https://127.0.0.1:1", "certificate-authority-data": b64(der)},
        {"token": "t"},
    )
    config = await load_config(str(path))
    assert config.ssl_context is not None
    assert config.ssl_context.get_ca_certs()[0]["serialNumber"]
    for cluster, user, problem in [
        (
            {"certificate-authority-data": "not base64!"},
            {"token": "t"},
            "certificate-authority-data of cluster 'c' is not valid base64",
        ),
        (
            {"certificate-authority-data": b64(b"-----BEGIN CERTIFICATE-----\nxx\n")},
            {"token": "t"},
            "cannot load the certificate authority certificate-authority-data",
        ),
        (
            {},
            {"client-certificate-data": b64(b"junk"), "client-key-data": b64(b"junk")},
            "cannot load the client certificate/key (inline data)",
        ),
        (
            {},
            {"client-certificate-data": b64(b"junk")},
            "a client certificate needs both a certificate and a key",
        ),
    ]:
        broken = simple(tmp_path / "broken", {"server": "https://127.0.0.1:1", **cluster}, user)
        with pytest.raises(ConfigError) as info:
            await load_config(str(broken))
        assert str(broken) in str(info.value)
        assert problem in str(info.value)
    assert listing(no_temp_files) == []


async def test_contexts_and_kubeconfig_env_merging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kubeconfig(
        tmp_path / "one",
        clusters={"a": {"server": "http://a.test:8080"}},
        users={"ua": {"token": "ta"}},
        contexts={"ctx-a": ("a", "ua", "ns-a")},
        current="ctx-a",
    )
    second = kubeconfig(
        tmp_path / "two",
        clusters={"b": {"server": "http://b.test:8080/"}},
        users={"ub": {"token": "tb"}},
        contexts={"ctx-b": ("b", "ub", None)},
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")
    config = await load_config()
    assert config.server == "http://a.test:8080"
    assert config.ssl_context is None
    assert config.namespace == "ns-a"
    assert await config.credentials.authorization() == "Bearer ta"
    other = await load_config(context="ctx-b")
    assert other.server == "http://b.test:8080"
    assert await other.credentials.authorization() == "Bearer tb"
    assert "ctx-b" in other.source
    with pytest.raises(ConfigError, match="nope"):
        await load_config(context="nope")


async def test_default_location_and_insecure(tmp_path: Path) -> None:
    kube_dir = Path.home() / ".kube"
    kube_dir.mkdir()
    simple(
        kube_dir / "config",
        {"server": "https://x.test", "insecure-skip-tls-verify": True},
        {"token": "t"},
    )
    config = await load_config()
    assert config.source.startswith(f"kubeconfig {kube_dir / 'config'}")
    assert config.ssl_context is not None
    assert config.ssl_context.verify_mode == ssl.CERT_NONE
    assert not config.ssl_context.check_hostname


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ("clusters: [\n  - {name: a\n", "not valid YAML"),
        ("apiVersion: v1\nkind: Config\n", "current-context"),
    ],
)
async def test_broken_files_name_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        await load_config(str(path))
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: https://x\n   bad: 1\n",
            "not valid YAML: line 6, column 4: expected <block end>, but found"
            " '<block mapping start>' (while parsing a block mapping started at line 3, column 3)",
        ),
        (
            'apiVersion: v1\nusers:\n- name: u\n  user:\n    token: "abc\n',
            "not valid YAML: line 6, column 1: found unexpected end of stream"
            " (while scanning a quoted scalar started at line 5, column 12)",
        ),
        (
            "apiVersion: v1\n\tkind: Config\n",
            "not valid YAML: line 2, column 1: found character '\\t' that cannot start any token",
        ),
    ],
)
async def test_yaml_errors_give_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        await load_config(str(path))
    assert str(info.value).startswith(f"kubeconfig {path}: {expected}")
    # Several files: the one at fault is named.
    good = simple(tmp_path / "good", {"server": "https://x.test"}, {"token": "t"})
    monkeypatch.setenv("KUBECONFIG", f"{good}:{path}")
    with pytest.raises(ConfigError) as info:
        await load_config()
    assert f": not valid YAML: {path} line " in str(info.value)


async def test_missing_things(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca: trustme.CA
) -> None:
    with pytest.raises(ConfigError, match="file does not exist"):
        await load_config(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="is a directory"):
        await load_config(str(tmp_path))
    with pytest.raises(ConfigError, match="no Kubernetes client configuration found"):
        await load_config()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "a"))
    with pytest.raises(ConfigError, match=r"\$KUBECONFIG"):
        await load_config()
    monkeypatch.delenv("KUBECONFIG")
    # a referenced certificate file that is not there
    path = simple(
        tmp_path / "c1", {"server": "https://x.test", "certificate-authority": "gone.crt"}, {}
    )
    with pytest.raises(ConfigError, match=r"gone\.crt"):
        await load_config(str(path))
    # no server
    path = simple(tmp_path / "c2", {"certificate-authority-data": b64(ca.cert_pem.bytes())}, {})
    with pytest.raises(ConfigError, match="no server URL"):
        await load_config(str(path))
    # a CA together with insecure-skip-tls-verify, as kubectl refuses
    path = simple(
        tmp_path / "c3",
        {
            "server": "https://x.test",
            "certificate-authority-data": b64(ca.cert_pem.bytes()),
            "insecure-skip-tls-verify": True,
        },
        {},
    )
    with pytest.raises(ConfigError, match="insecure-skip-tls-verify"):
        await load_config(str(path))
    # garbage certificate data
    path = simple(
        tmp_path / "c4",
        {"server": "https://x.test", "certificate-authority-data": b64(b"not a cert")},
        {},
    )
    with pytest.raises(ConfigError, match="certificate authority"):
        await load_config(str(path))
    # proxies are not supported, and say so
    path = simple(
        tmp_path / "c5", {"server": "https://x.test", "proxy-url": "http://proxy:3128"}, {}
    )
    with pytest.raises(ConfigError, match="proxy-url"):
        await load_config(str(path))
    # a client key without a certificate
    key = ca.issue_cert("x.test").private_key_pem.bytes()
    path = simple(tmp_path / "c6", {"server": "https://x.test"}, {"client-key-data": b64(key)})
    with pytest.raises(ConfigError, match="both a certificate and a key"):
        await load_config(str(path))


async def test_token_file_is_reread_when_it_rotates(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    token = tmp_path / "token"
    token.write_text("t1\n")
    path = simple(tmp_path / "config", {"server": "http://x.test"}, {"tokenFile": str(token)})
    config = await load_config(str(path))
    assert await config.credentials.authorization() == "Bearer t1"
    token.write_text("t2")
    mock_clock.jump(30)
    assert await config.credentials.authorization() == "Bearer t1"  # not due yet
    mock_clock.jump(31)
    assert await config.credentials.authorization() == "Bearer t2"


async def test_token_file_rotation_is_picked_up_on_401(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("old")
    path = simple(tmp_path / "config", {"server": "http://x.test"}, {"tokenFile": str(token)})
    config = await load_config(str(path))
    token.write_text("new")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer new":
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json={"kind": "Status", "code": 401, "reason": "Unauthorized"})

    async with KubeClient(config, transport=httpx.MockTransport(handler)) as client:
        assert await client.get("/x") == {"ok": True}
    assert seen == ["Bearer old", "Bearer new"]


async def test_token_file_vanishing_keeps_the_last_token(
    tmp_path: Path, mock_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = tmp_path / "token"
    token.write_text("t1")
    path = simple(tmp_path / "config", {"server": "http://x.test"}, {"tokenFile": str(token)})
    config = await load_config(str(path))
    token.unlink()
    mock_clock.jump(61)
    assert await config.credentials.authorization() == "Bearer t1"
    assert "keeping the old ones" in caplog.text
    token.write_text("t3")
    mock_clock.jump(11)
    assert await config.credentials.authorization() == "Bearer t3"


PLUGIN = textwrap.dedent(
    """
    import datetime, json, os, sys
    state = sys.argv[1]
    n = int(open(state).read()) + 1 if os.path.exists(state) else 1
    open(state, "w").write(str(n))
    open(state + ".info", "w").write(os.environ.get("KUBERNETES_EXEC_INFO", ""))
    mode = sys.argv[2]
    if mode == "hang" or (mode == "hang-later" and n > 1):
        open(state + ".pid-" + str(n), "w").write(str(os.getpid()))
        import time
        time.sleep(3600)  # waiting for a login that never comes
    if mode == "fail":
        sys.stderr.write("plugin says: not logged in\\n")
        sys.exit(3)
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=100)
    status = {"token": f"exec-{n}",
              "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if mode == "cert":
        status = {"clientCertificateData": open(sys.argv[3]).read(),
                  "clientKeyData": open(sys.argv[4]).read()}
    print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                      "status": status}))
    """
)


def exec_user(tmp_path: Path, *args: str) -> dict[str, Any]:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script), str(tmp_path / "state"), *args],
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }
    }


async def test_exec_plugin_token_is_refreshed_before_expiry(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    path = simple(tmp_path / "config", {"server": "http://x.test"}, exec_user(tmp_path, "token"))
    config = await load_config(str(path))
    assert await config.credentials.authorization() == "Bearer exec-1"
    info = json.loads((tmp_path / "state.info").read_text())
    assert info["kind"] == "ExecCredential"
    assert info["spec"]["cluster"]["server"] == "http://x.test"
    mock_clock.jump(60)
    assert await config.credentials.authorization() == "Bearer exec-1"
    assert (tmp_path / "state").read_text() == "1"  # not run again while fresh
    mock_clock.jump(35)  # 95 s of a 100 s token: refresh
    assert await config.credentials.authorization() == "Bearer exec-2"
    assert (tmp_path / "state").read_text() == "2"


async def test_exec_plugin_rerun_on_401(tmp_path: Path) -> None:
    path = simple(tmp_path / "config", {"server": "http://x.test"}, exec_user(tmp_path, "token"))
    config = await load_config(str(path))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer exec-1":
            return httpx.Response(401)
        return httpx.Response(200, json={"token": request.headers["authorization"]})

    async with KubeClient(config, transport=httpx.MockTransport(handler)) as client:
        assert await client.get("/x") == {"token": "Bearer exec-2"}
        assert client.statistics().reauthentications == 1


async def test_exec_plugin_failure_is_one_clear_error(tmp_path: Path) -> None:
    path = simple(tmp_path / "config", {"server": "http://x.test"}, exec_user(tmp_path, "fail"))
    with pytest.raises(ConfigError) as info:
        await load_config(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "exec credential plugin failed" in message
    assert "not logged in" in message


async def test_exec_plugin_client_certificate(
    nursery: trio.Nursery, tmp_path: Path, ca: trustme.CA, client_ca: trustme.CA
) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server = TestServer(ssl_context=server_ctx)
    await nursery.start(server.serve)
    cert = client_ca.issue_cert("vk.example", common_name="exec-user")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "k.pem"))
    path = simple(
        tmp_path / "config",
        {
            "server": f"https://127.0.0.1:{server.port}",
            "certificate-authority-data": b64(ca.cert_pem.bytes()),
        },
        exec_user(tmp_path, "cert", str(tmp_path / "c.pem"), str(tmp_path / "k.pem")),
    )
    config = await load_config(str(path))
    async with KubeClient(config) as client:
        await client.get("/x")
    peer = server.seen[0].peer_cert
    assert peer is not None
    assert any(("commonName", "exec-user") in rdn for rdn in peer["subject"])


def service_account(tmp_path: Path, ca: trustme.CA, token: str = "sa-token") -> Path:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(token)
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    (sa / "namespace").write_text("vk-system\n")
    return sa


async def test_in_cluster(
    tmp_path: Path, ca: trustme.CA, mock_clock: trio.testing.MockClock
) -> None:
    sa = service_account(tmp_path, ca)
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = await load_in_cluster_config(service_account_dir=str(sa), environ=env)
    assert config.server == "https://10.96.0.1:443"
    assert config.namespace == "vk-system"
    assert config.source == "in-cluster config"
    assert config.ssl_context is not None
    assert await config.credentials.authorization() == "Bearer sa-token"
    (sa / "token").write_text("rotated")
    mock_clock.jump(61)
    assert await config.credentials.authorization() == "Bearer rotated"
    v6 = await load_in_cluster_config(
        service_account_dir=str(sa),
        environ={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"},
    )
    assert v6.server == "https://[fd00::1]:6443"


async def test_in_cluster_problems(tmp_path: Path, ca: trustme.CA) -> None:
    sa = service_account(tmp_path, ca)
    with pytest.raises(ConfigError, match=r"in-cluster config: .*host/port"):
        await load_in_cluster_config(service_account_dir=str(sa), environ={})
    (sa / "token").unlink()
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(ConfigError, match=r"in-cluster config: .*token"):
        await load_in_cluster_config(service_account_dir=str(sa), environ=env)


async def test_in_cluster_is_chosen_when_there_is_no_kubeconfig_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    # the real service-account directory does not exist on this machine
    with pytest.raises(ConfigError, match="in-cluster config"):
        await load_config()


def test_for_server() -> None:
    config = KubeConfig.for_server("https://h.test:6443/", token="abc")
    assert config.server == "https://h.test:6443"
    assert config.ssl_context is not None
    plain = KubeConfig.for_server("http://h.test")
    assert plain.ssl_context is None


async def test_credentials_expiry_in_the_past_still_rate_limits_refreshes(
    mock_clock: trio.testing.MockClock,
) -> None:
    runs = 0
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)

    class Config:
        def __init__(self) -> None:
            self.api_key = {"BearerToken": "Bearer x"}

    def load() -> tuple[Any, datetime.datetime | None]:
        nonlocal runs
        runs += 1
        return Config(), past

    creds = LoaderCredentials(load, file_based=False)
    for _ in range(5):
        assert await creds.authorization() == "Bearer x"
    assert runs == 1  # an already-expired credential is re-fetched at most once a second
    mock_clock.jump(1.5)
    await creds.authorization()
    assert runs == 2


def _kill_plugins(tmp_path: Path) -> None:
    for pid_file in tmp_path.glob("state.pid-*"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_hung_exec_plugin_at_start_is_one_clear_error(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = simple(tmp_path / "config", {"server": "http://x.test"}, exec_user(tmp_path, "hang"))
    try:
        with pytest.raises(ConfigError) as info:
            await load_config(str(path))
    finally:
        await wait_for_file(tmp_path / "state.pid-1")
        _kill_plugins(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"longer than {LOAD_TIMEOUT:g}s" in message
    assert "exec credential plugin" in message


async def test_hung_exec_plugin_refresh_keeps_the_token_and_runs_once(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    user = exec_user(tmp_path, "hang-later")
    path = simple(tmp_path / "config", {"server": "http://x.test"}, user)
    config = await load_config(str(path))  # the first run answers (in real time)
    autojump_clock = mock_clock
    autojump_clock.autojump_threshold = 0  # from here on, waiting out the timeout is instant
    try:
        assert await config.credentials.authorization() == "Bearer exec-1"
        autojump_clock.jump(95)  # refresh due: the plugin hangs, the lock is not held for ever
        assert await config.credentials.authorization() == "Bearer exec-1"
        await wait_for_file(tmp_path / "state.pid-2")
        for _ in range(3):  # later refreshes do not start more copies while it hangs
            autojump_clock.jump(11)
            assert await config.credentials.authorization() == "Bearer exec-1"
        assert (tmp_path / "state").read_text() == "2"
    finally:
        _kill_plugins(tmp_path)


async def wait_for_file(path: Path) -> None:
    """The plugin process writes it when it starts (a real process: poll, generously)."""

    def written() -> bool:
        return path.exists() and bool(path.read_text())

    for _ in range(1200):
        if await trio.to_thread.run_sync(written):
            return
        await trio.to_thread.run_sync(time.sleep, 0.1)
    raise AssertionError(f"{path} never appeared")
