"""Test-side handle on the real control plane that ``scripts/controlplane`` runs.

The session fixtures in ``tests/conftest.py`` hand tests a :class:`ControlPlane`. It wraps one
control-plane DIR (see the README section "Control plane"): paths of the kubeconfig and
certificates, the server URL, a ``kubectl`` of the same release, fault injection (``restart``,
``compact``), kubelet identities (``node_credentials``) and small admin HTTP clients.

The admin clients here are deliberately thin (httpx plus the admin client certificate): they exist
so the harness can be tested and so tests can arrange and inspect cluster state independently of
``vk_trio.kube``, which is itself under test.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, final

import attrs
import httpx

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
SCRIPT: Final = REPO_ROOT / "scripts" / "controlplane"

#: The release the harness builds; ``/version`` reports it.
KUBERNETES_VERSION: Final = "v1.37.2"

JSON = dict[str, Any]


class ControlPlaneError(RuntimeError):
    """``scripts/controlplane`` failed; the message is its one-line error (plus any log tail)."""


def run_script(*args: str, timeout: float = 600.0, env: Mapping[str, str] | None = None) -> str:
    """Run ``scripts/controlplane ARGS`` and return its stdout, or raise with its stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            [str(SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ControlPlaneError(
            f"scripts/controlplane {' '.join(args)} did not finish in {timeout:.0f}s"
        ) from exc
    if proc.returncode != 0:
        message = proc.stderr.strip() or f"exit status {proc.returncode}"
        raise ControlPlaneError(f"scripts/controlplane {args[0]} failed: {message}")
    return proc.stdout


def build() -> Path:
    """Build the control-plane binary if the cached one is stale; return its path."""
    return Path(run_script("path", timeout=3600.0).strip())


@final
@attrs.frozen
class NodeCredentials:
    """A kubelet identity ``system:node:<name>`` (group ``system:nodes``)."""

    name: str
    kubeconfig: Path
    cert: Path
    key: Path


@final
@attrs.frozen
class ControlPlane:
    """One running control plane, as described by its ``DIR/ready.json``.

    Attributes are read when the handle is made; ``restart`` returns a fresh handle (pids change,
    the server URL and ports do not).
    """

    dir: Path
    binary: Path
    ready: JSON = attrs.field(repr=False)

    @classmethod
    def load(cls, directory: Path, binary: Path) -> ControlPlane:
        ready = json.loads((directory / "ready.json").read_text())
        return cls(dir=directory, binary=binary, ready=ready)

    @classmethod
    def up(
        cls,
        directory: Path,
        *,
        with_scheduler: bool = False,
        with_controller_manager: bool = False,
        profile: str = "default",
        owner_pid: int | None = None,
        timeout: float = 240.0,
    ) -> ControlPlane:
        """``scripts/controlplane up DIR ...``; returns once the control plane is ready.

        With ``owner_pid`` the control plane stops by itself once that process is gone.
        """
        args = ["up", str(directory), "--profile", profile]
        if with_scheduler:
            args.append("--with-scheduler")
        if with_controller_manager:
            args.append("--with-controller-manager")
        env = {"VK_CONTROLPLANE_OWNER_PID": str(owner_pid)} if owner_pid else None
        run_script(*args, timeout=timeout + 60.0, env=env)
        return cls.load(directory, build())

    # -- what clients need ---------------------------------------------------------------

    @property
    def server(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return str(self.ready["server"])

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (user in ``system:masters``)."""
        return self.dir / "kubeconfig"

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"

    @property
    def kubelet_cert(self) -> Path:
        """Serving certificate for virtual kubelets (SANs 127.0.0.1 and localhost)."""
        return self.dir / "kubelet.crt"

    @property
    def kubelet_key(self) -> Path:
        return self.dir / "kubelet.key"

    @property
    def apiserver_kubelet_client_cert(self) -> Path:
        """The client certificate the API server presents to kubelets (CA: ``ca_cert``)."""
        return Path(self.ready["paths"]["apiserver_kubelet_client_cert"])

    @property
    def apiserver_kubelet_client_key(self) -> Path:
        return Path(self.ready["paths"]["apiserver_kubelet_client_key"])

    @property
    def etcd_url(self) -> str:
        return str(self.ready["etcd_url"])

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.ready["components"])

    @property
    def pids(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.ready["pids"].items()}

    @property
    def logs(self) -> dict[str, Path]:
        return {str(k): Path(v) for k, v in self.ready["paths"]["logs"].items()}

    @property
    def node_monitor_grace_period(self) -> float | None:
        """Seconds without heartbeat before the controller manager marks a node NotReady."""
        value = self.ready.get("node_monitor_grace_period_seconds")
        return float(value) if value is not None else None

    # -- operations ----------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the bundled kubectl (same release) against this cluster as the admin."""
        proc = subprocess.run(
            [str(self.binary), "kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def node_credentials(self, node: str) -> NodeCredentials:
        """Issue (or re-issue) the kubelet identity ``system:node:<node>``."""
        kubeconfig = Path(run_script("node-credentials", str(self.dir), node).strip())
        return NodeCredentials(
            name=node,
            kubeconfig=kubeconfig,
            cert=kubeconfig.parent / "client.crt",
            key=kubeconfig.parent / "client.key",
        )

    def restart(self, down_for: float = 0.0) -> ControlPlane:
        """Stop kube-apiserver and etcd, wait ``down_for`` seconds, start them again on the
        same ports with the same data; returns the refreshed handle."""
        run_script("restart", str(self.dir), "--down-for", str(down_for), timeout=down_for + 300.0)
        return ControlPlane.load(self.dir, self.binary)

    def compact(self) -> int:
        """Compact etcd at its current revision; returns that revision."""
        return int(run_script("compact", str(self.dir)).strip())

    def down(self) -> None:
        run_script("down", str(self.dir), timeout=180.0)

    # -- HTTP clients --------------------------------------------------------------------

    def ssl_context(self, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
        """TLS context trusting the harness CA, presenting ``cert``/``key`` (default: admin)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        ctx.load_cert_chain(str(cert or self.admin_cert), str(key or self.admin_key))
        return ctx

    def admin_client(self, timeout: float = 30.0) -> AdminClient:
        """A small synchronous JSON client authenticated as the admin."""
        return AdminClient(
            httpx.Client(base_url=self.server, verify=self.ssl_context(), timeout=timeout)
        )

    def client_for(self, creds: NodeCredentials, timeout: float = 30.0) -> AdminClient:
        """The same small client, authenticated as a kubelet identity."""
        ctx = self.ssl_context(creds.cert, creds.key)
        return AdminClient(httpx.Client(base_url=self.server, verify=ctx, timeout=timeout))

    def async_client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` (works under trio) authenticated as the admin."""
        return httpx.AsyncClient(base_url=self.server, verify=self.ssl_context(), timeout=timeout)


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code, ``body`` the decoded Status if any."""

    def __init__(self, method: str, path: str, status: int, body: JSON | str) -> None:
        self.status = status
        self.body = body
        reason = body.get("message", "") if isinstance(body, dict) else body[:200]
        super().__init__(f"{method} {path}: {status} {reason}")


@final
class AdminClient:
    """Minimal JSON-over-HTTPS helper for arranging and inspecting cluster state in tests."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        response = self.http.request(
            method,
            path,
            params=params,
            content=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        if response.is_error:
            try:
                decoded: JSON | str = response.json()
            except ValueError:
                decoded = response.text
            raise ApiError(method, path, response.status_code, decoded)
        result: JSON = response.json()
        return result

    def get(self, path: str, **params: str) -> JSON:
        return self.request("GET", path, params=params or None)

    def create(self, path: str, body: JSON) -> JSON:
        return self.request("POST", path, body)

    def replace(self, path: str, body: JSON) -> JSON:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: JSON, *, kind: str = "merge") -> JSON:
        return self.request("PATCH", path, body, content_type=f"application/{kind}-patch+json")

    def delete(self, path: str) -> JSON:
        return self.request("DELETE", path)

    @contextmanager
    def watch(
        self, path: str, resource_version: str, *, timeout_seconds: int = 60, **params: str
    ) -> Iterator[Iterator[JSON]]:
        """Open ``?watch=1`` from ``resource_version``; yields an iterator of watch events.

        A refusal before the stream starts (e.g. 410 Gone) raises :class:`ApiError`.
        """
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
            "allowWatchBookmarks": "false",
            **params,
        }
        with self.http.stream("GET", path, params=query, timeout=timeout_seconds + 10) as response:
            if response.is_error:
                response.read()
                raise ApiError("WATCH", path, response.status_code, response.text)
            yield (json.loads(line) for line in response.iter_lines() if line.strip())


def wait_for(
    condition: Any, *, timeout: float, interval: float = 0.25, message: str = "condition"
) -> Any:
    """Poll ``condition()`` (real time: it waits on other processes) until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout:.0f}s")
        time.sleep(interval)
