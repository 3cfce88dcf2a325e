"""A virtual node whose kubelet API the real API server (and kubectl) can reach, for
tests/e2e/test_kubelet_api_*.py.

The node runs in-process (``vk_trio.node`` with the mock provider) and registers InternalIP and
daemon port of an in-process :class:`~vk_trio.api.KubeletServer`; the API server dials that
address with its kubelet client certificate and verifies our serving certificate against the
harness CA.  Certificates for other identities and addresses are minted with the harness CA's
key (``DIR/pki/ca.key``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio.api import KubeletServer, KubeletServerConfig
from vk_trio.kube import KubeClient, KubeConfig
from vk_trio_mock import MockConfig, MockLogs, MockProvider

from ._node_support import JSON, RunningNode, eventually, running_node


@attrs.define
class NamespaceHost:
    """A test host in a network namespace of the test's own, joined to the root namespace by a
    veth pair: ``inner`` is its address, ``outer`` the root side's."""

    namespace: str
    inner: str
    outer: str
    relays: list[subprocess.Popen[str]] = attrs.field(factory=list)

    def relay(self, port: int) -> None:
        """Carry connections to ``inner:port`` on to ``outer:port`` (where the kubelet listens)."""
        script = Path(__file__).with_name("_relay.py")
        proc = subprocess.Popen(
            [
                *("ip", "netns", "exec", self.namespace, sys.executable, str(script)),
                *(self.inner, str(port), self.outer, str(port)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.relays.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"


@contextmanager
def namespace_host() -> Iterator[NamespaceHost]:
    """Create the namespace and veth pair (addresses in 10.231.0.0/16), remove them after.

    The API server refuses to proxy ``nodes/<n>/proxy`` to loopback addresses ("address not
    allowed"), so the node-proxy test needs its kubelet on an address that is not loopback; it
    stays on this machine, on a test host of the test's own making.
    """
    tag = os.urandom(3).hex()
    namespace, outer_if, inner_if = f"vkt-{tag}", f"vkh{tag}", f"vkn{tag}"
    subnet = int(tag, 16) % 16000 * 4
    outer = f"10.231.{subnet // 256}.{subnet % 256 + 1}"
    inner = f"10.231.{subnet // 256}.{subnet % 256 + 2}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    ip("netns", "add", namespace)
    host = NamespaceHost(namespace, inner, outer)
    try:
        ip("link", "add", outer_if, "type", "veth", "peer", "name", inner_if)
        ip("link", "set", inner_if, "netns", namespace)
        ip("addr", "add", f"{outer}/30", "dev", outer_if)
        ip("link", "set", outer_if, "up")
        ip("-n", namespace, "addr", "add", f"{inner}/30", "dev", inner_if)
        ip("-n", namespace, "link", "set", inner_if, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        yield host
    finally:
        for proc in host.relays:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        subprocess.run(["ip", "link", "del", outer_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def issue_certificate(
    cp: ControlPlane,
    directory: Path,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    server: bool = False,
) -> tuple[Path, Path]:
    """A certificate signed by the harness CA; ``(cert, key)`` paths in ``directory``."""
    ca_cert = x509.load_pem_x509_certificate(cp.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key((cp.dir / "pki" / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if ip_addresses:
        sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    stem = directory / common_name.replace(":", "_")
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@attrs.define
class KubeletNode:
    """A registered node with its kubelet API server."""

    name: str
    address: str
    port: int
    server: KubeletServer
    mock: MockProvider
    node: RunningNode

    @property
    def client(self) -> KubeClient:
        return self.node.client

    async def running_pod(self, namespace: str, name: str, **spec: Any) -> JSON:
        await self.node.create_pod(namespace, name, **spec)

        async def running() -> JSON | None:
            pod = await self.node.pod(namespace, name)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Running":
                return pod
            return None

        pod: JSON = await eventually(running)
        return pod


@asynccontextmanager
async def kubelet_node(
    cp: ControlPlane,
    hint: str,
    *,
    address: str = "127.0.0.1",
    advertise: str | None = None,
    relay: Callable[[int], None] | None = None,
    serving: tuple[Path, Path] | None = None,
    mock_config: MockConfig | None = None,
    **server_options: Any,
) -> AsyncIterator[KubeletNode]:
    """Start the kubelet API (TLS with the harness CA as client CA, webhook auth through the
    admin client), then register a node pointing at it; everything stopped at the end.

    The server listens on ``address``; the node advertises ``advertise`` (default: the same),
    and ``relay(port)``, if given, is called once the port is known (see :func:`namespace_host`)."""
    cert, key = serving or (cp.kubelet_cert, cp.kubelet_key)
    config = KubeConfig.for_server(cp.server, ssl_context=cp.ssl_context())
    mock_config = mock_config or MockConfig(logs=MockLogs(interval=0.25))
    name = f"vk-api-{hint}-{os.urandom(3).hex()}"
    server_options.setdefault("client_ca_file", str(cp.ca_cert))
    async with KubeClient(config) as client, trio.open_nursery() as nursery:
        server = KubeletServer(
            KubeletServerConfig(
                node_name=name,
                tls_cert_file=str(cert),
                tls_key_file=str(key),
                listen_address=address,
                port=0,
                **server_options,
            ),
            MockProvider(node_name=name),  # replaced below, once the port is known
            client=client,
        )
        port: int = await nursery.start(server.run)
        if relay is not None:
            await trio.to_thread.run_sync(relay, port)
        address = advertise or address
        mock = MockProvider(
            node_name=name, config=mock_config, internal_ip=address, daemon_port=port
        )
        server.app.provider = mock
        async with running_node(
            cp, hint, provider=mock, node_name=name, internal_ip=address, daemon_port=port
        ) as node:
            assert node.node is not None
            server.app.pods = node.node.lookups.pods.lister().list
            yield KubeletNode(name, address, port, server, mock, node)
        server.stop()


async def kubectl(
    cp: ControlPlane,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = WAIT,
) -> subprocess.CompletedProcess[bytes]:
    """Run the harness's kubectl as the admin, without blocking the trio loop."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    with trio.fail_after(timeout):
        return await trio.run_process(
            [str(cp.binary), "kubectl", "--kubeconfig", str(cp.kubeconfig), *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=full_env,
            stdin=stdin,
        )


def kubectl_command(cp: ControlPlane, *args: str) -> list[str]:
    return [str(cp.binary), "kubectl", "--kubeconfig", str(cp.kubeconfig), *args]


#: kubectl through the API server's WebSocket-to-SPDY translation (the default), and straight
#: SPDY (the API server proxies the upgrade as is).
TRANSPORTS: dict[str, dict[str, str]] = {
    "websocket": {},
    "spdy": {
        "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false",
        "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false",
    },
}


@asynccontextmanager
async def background_process(command: Sequence[str], **options: Any) -> AsyncIterator[trio.Process]:
    """A process for the duration of the block (killed and reaped at the end)."""
    process = await trio.lowlevel.open_process(list(command), **options)
    try:
        yield process
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    await pipe.aclose()
