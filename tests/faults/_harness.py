"""The fault-injection suite's moving parts: a real ``vk-trio`` process, the pod churn, the check.

A run (see ``test_faults.py``) starts ``vk-trio --provider mock`` as its own process, with a
kubeconfig for the ordinary user ``vk-faults`` (cluster-admin through RBAC, *not* in
``system:masters``, so that API priority and fairness applies to it), and churns pods on its node
from the test: ``VK_FAULTS_PODS`` pods (default 1,000) are created, a quarter of them updated (a
new image), a quarter deleted at once and a quarter deleted with a grace period (the node must
finish those), by ``VK_FAULTS_WORKERS`` concurrent clients. A fault is injected while that runs.

Then :func:`check` compares three views until they agree (or ``VK_FAULTS_CONVERGE_TIMEOUT``
seconds pass): what the driver did (the expected state of every pod), what the API server says,
and what the provider runs (the node's ``/runningpods/``, read with the API server's kubelet
client certificate), plus the mock's ledger, which must show no pod UID created twice by one
process. Every disagreement is a *wrong* pod, with the reason.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, final

import attrs
import httpx
import trio

from tests._controlplane import JSON, ApiError, ControlPlane
from tests.e2e._kubelet_api_support import issue_certificate

VK_TRIO: Final = str(Path(sys.executable).with_name("vk-trio"))
USER: Final = "vk-faults"
IMAGE: Final = "nginx:1.27"
UPDATED_IMAGE: Final = "nginx:1.28"
GRACE_SECONDS: Final = 5


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def pods_count() -> int:
    return env_int("VK_FAULTS_PODS", 1000)


def converge_timeout() -> float:
    return env_float("VK_FAULTS_CONVERGE_TIMEOUT", 600.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the cluster side ------------------------------------------------------------------------


def user_kubeconfig(cp: ControlPlane, directory: Path, server: str | None = None) -> Path:
    """A kubeconfig for :data:`USER` (bound to cluster-admin), optionally via another URL."""
    cert, key = issue_certificate(cp, directory, common_name=USER)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": USER},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    }
    with cp.admin_client() as api:
        try:
            api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
        except ApiError as exc:
            if exc.status != 409:
                raise
    path = directory / f"kubeconfig-{USER}-{free_port()}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": server or cp.server,
                    "certificate-authority": str(cp.ca_cert),
                },
            }
        ],
        "users": [
            {"name": USER, "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": USER}}],
        "current-context": "x",
    }
    path.write_text(json.dumps(config))
    return path


FLOWCONTROL: Final = "/apis/flowcontrol.apiserver.k8s.io/v1"


def throttle_objects() -> list[tuple[str, JSON]]:
    """API priority and fairness objects that squeeze :data:`USER` into one seat, rejecting
    (429 with ``Retry-After``) whatever does not fit.

    A priority level's seats are the server's concurrency limit times its share of all shares;
    the ballast level (lendable, so nobody else starves) makes our one share a single seat.
    """
    ballast = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "vk-faults-ballast"},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 10000,
                "lendablePercent": 100,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    squeeze = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "vk-faults-squeeze"},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 1,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "vk-faults-squeeze"},
        "spec": {
            "priorityLevelConfiguration": {"name": "vk-faults-squeeze"},
            "matchingPrecedence": 100,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [{"kind": "User", "user": {"name": USER}}],
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "clusterScope": True,
                            "namespaces": ["*"],
                        }
                    ],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }
            ],
        },
    }
    return [
        ("prioritylevelconfigurations", ballast),
        ("prioritylevelconfigurations", squeeze),
        ("flowschemas", schema),
    ]


# -- the vk-trio process ---------------------------------------------------------------------


@final
class VkTrio:
    """``vk-trio --provider mock`` for one node; restartable (same node, same ports)."""

    def __init__(
        self, cp: ControlPlane, directory: Path, node: str, knobs: JSON, kubeconfig: Path
    ) -> None:
        self.cp = cp
        self.node = node
        self.directory = directory
        self.kubeconfig = kubeconfig
        self.ledger = directory / f"{node}.ledger.jsonl"
        self.config = directory / f"{node}.mock.json"
        self.config.write_text(
            json.dumps({node: {"pods": "100000", "knobs": {**knobs, "ledger": str(self.ledger)}}})
        )
        self.kubelet_port = free_port()
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def kubelet_url(self) -> str:
        return f"https://127.0.0.1:{self.kubelet_port}"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.node}.{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "KUBELET_PORT": str(self.kubelet_port),
            "VKUBELET_POD_IP": "127.0.0.1",
            "APISERVER_CERT_LOCATION": str(self.cp.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(self.cp.kubelet_key),
            "APISERVER_CA_CERT_LOCATION": str(self.cp.ca_cert),
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    VK_TRIO,
                    "--provider",
                    "mock",
                    "--provider-config",
                    str(self.config),
                    "--nodename",
                    self.node,
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--metrics-addr",
                    f"127.0.0.1:{self.metrics_port}",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, no drain."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def terminate(self, timeout: float = 180.0) -> tuple[int, float]:
        """SIGTERM; returns the exit status and how long the process took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def metric_sum(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels`` (0 if unreachable)."""
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                text = (await client.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        except httpx.HTTPError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def creates_per_process_uid(self) -> Counter[tuple[int, str]]:
        """Successful creates per (process, pod UID), from the mock's ledger."""
        counts: Counter[tuple[int, str]] = Counter()
        if self.ledger.exists():
            for line in self.ledger.read_text().splitlines():
                entry = json.loads(line)
                if entry["op"] == "create":
                    counts[(entry["pid"], entry["uid"])] += 1
        return counts


async def wait_until(
    what: str, check: Callable[[], Awaitable[Any]], timeout: float = 180.0, interval: float = 0.5
) -> Any:
    """Poll ``check`` until truthy; fail naming ``what`` after ``timeout`` (generous: the
    machine is loaded)."""
    with trio.move_on_after(timeout):
        while True:
            value = await check()
            if value:
                return value
            await trio.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


async def node_ready(api: httpx.AsyncClient, node: str) -> bool:
    try:
        response = await api.get(f"/api/v1/nodes/{node}")
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    conditions = {c["type"]: c["status"] for c in response.json()["status"].get("conditions", [])}
    return conditions.get("Ready") == "True"


async def lease_age(api: httpx.AsyncClient, node: str) -> float | None:
    """Seconds since the node's Lease was last renewed (``None``: unreadable now)."""
    try:
        response = await api.get(
            f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}"
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    renewed = response.json().get("spec", {}).get("renewTime")
    if not renewed:
        return None
    when = datetime.strptime(renewed, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


# -- the churn -------------------------------------------------------------------------------


class Churn:
    """Creates, updates and deletes ``count`` pods on ``node`` in ``namespace``, retrying
    through every fault (a transport error, 5xx or 429 is tried again), and remembers what each
    pod should end up as: ``None`` (deleted) or the image it should run."""

    def __init__(self, api: httpx.AsyncClient, namespace: str, node: str, count: int) -> None:
        self.api = api
        self.namespace = namespace
        self.node = node
        self.count = count
        self.workers = env_int("VK_FAULTS_WORKERS", 16)
        self.expected: dict[str, str | None] = {}
        self.done = 0
        self.retries = 0
        self.finished = trio.Event()
        self._progress: list[tuple[float, trio.Event]] = []
        self._random = random.Random(13)

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods"

    def name(self, index: int) -> str:
        return f"p{index:05d}"

    async def reached(self, fraction: float) -> None:
        """Wait until ``fraction`` of the pods have been through their whole life."""
        if self.done >= fraction * self.count:
            return
        event = trio.Event()
        self._progress.append((fraction, event))
        await event.wait()

    async def _call(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> int:
        while True:
            try:
                response = await self.api.request(method, path, **kwargs)
            except httpx.HTTPError:
                self.retries += 1
                await trio.sleep(0.5)
                continue
            if response.status_code in ok:
                return response.status_code
            if response.status_code == 429 or response.status_code >= 500:
                self.retries += 1
                await trio.sleep(0.5)
                continue
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:300]}")

    def manifest(self, name: str) -> JSON:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"churn": "yes"}},
            "spec": {
                "nodeName": self.node,
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                "containers": [{"name": "app", "image": IMAGE}],
            },
        }

    async def _life(self, index: int) -> None:
        name = self.name(index)
        # 409: an earlier attempt got through before its connection broke.
        await self._call("POST", self.path, (201, 409), json=self.manifest(name))
        self.expected[name] = IMAGE
        await trio.sleep(self._random.random() * 0.5)
        kind = index % 4
        if kind == 1:
            patch = [{"op": "replace", "path": "/spec/containers/0/image", "value": UPDATED_IMAGE}]
            await self._call(
                "PATCH",
                f"{self.path}/{name}",
                (200,),
                content=json.dumps(patch),
                headers={"Content-Type": "application/json-patch+json"},
            )
            self.expected[name] = UPDATED_IMAGE
        elif kind in (2, 3):
            grace = 0 if kind == 2 else GRACE_SECONDS
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace}
            self.expected[name] = None
            await self._call("DELETE", f"{self.path}/{name}", (200, 202, 404), json=body)

    async def run(self) -> None:
        send, receive = trio.open_memory_channel[int](self.count)
        for index in range(self.count):
            send.send_nowait(index)
        send.close()

        async def worker() -> None:
            async for index in receive:
                await self._life(index)
                self.done += 1
                for fraction, event in self._progress:
                    if self.done >= fraction * self.count:
                        event.set()

        async with trio.open_nursery() as nursery:
            for _ in range(self.workers):
                nursery.start_soon(worker)
        for _, event in self._progress:
            event.set()
        self.finished.set()

    async def cleanup(self) -> None:
        """Remove what is left (grace 0: the node may be gone already)."""
        with trio.move_on_after(120):
            await self._call(
                "DELETE",
                self.path,
                (200, 404),
                params={"gracePeriodSeconds": "0"},
            )
            await self._call("DELETE", f"/api/v1/namespaces/{self.namespace}", (200, 202, 404))


# -- the check -------------------------------------------------------------------------------


def _ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _image(pod: JSON) -> str | None:
    containers = pod.get("spec", {}).get("containers") or []
    return containers[0].get("image") if containers else None


async def check(
    api: httpx.AsyncClient, kubelet: httpx.AsyncClient, vk: VkTrio, churn: Churn
) -> dict[str, str]:
    """Every pod the churn touched whose state is wrong, with why (empty: all agree)."""
    listed = await api.get(churn.path, params={"labelSelector": "churn=yes"})
    listed.raise_for_status()
    in_api = {p["metadata"]["name"]: p for p in listed.json()["items"]}
    running = await kubelet.get(f"{vk.kubelet_url}/runningpods/")
    running.raise_for_status()
    in_provider = {
        p["metadata"]["name"]: p
        for p in running.json().get("items") or []
        if p["metadata"].get("namespace") == churn.namespace
    }
    wrong: dict[str, str] = {}
    for index in range(churn.count):
        name = churn.name(index)
        want = churn.expected.get(name, "never created")
        pod, held = in_api.get(name), in_provider.get(name)
        if want is None:
            if pod is not None:
                wrong[name] = "deleted, but still in the API" + (
                    " (terminating)" if pod["metadata"].get("deletionTimestamp") else ""
                )
            elif held is not None:
                wrong[name] = "deleted, but the provider still runs it"
            continue
        if pod is None:
            wrong[name] = "lost: not in the API"
        elif pod["metadata"].get("deletionTimestamp"):
            wrong[name] = "terminating in the API, never deleted"
        elif _image(pod) != want:
            wrong[name] = f"API image {_image(pod)} != {want}"
        elif pod.get("status", {}).get("phase") != "Running" or not _ready(pod):
            phase = pod.get("status", {}).get("phase")
            runs = "runs" if held is not None else "does not run"
            wrong[name] = f"API status phase={phase} ready={_ready(pod)}; the provider {runs} it"
        elif held is None:
            wrong[name] = "lost: the provider does not run it"
        elif held["metadata"].get("uid") != pod["metadata"]["uid"]:
            wrong[name] = "the provider runs another UID"
        elif _image(held) != want:
            wrong[name] = f"provider image {_image(held)} != {want} (update lost)"
    for name in set(in_provider) - {churn.name(i) for i in range(churn.count)}:
        wrong[name] = "the provider runs a pod nobody created"
    uids = {p["metadata"]["uid"]: n for n, p in in_api.items()}
    for (pid, uid), creates in vk.creates_per_process_uid().items():
        if creates > 1:
            name = uids.get(uid, uid)
            wrong[name] = f"created {creates} times in the provider by process {pid}"
    return wrong


def kubelet_client(cp: ControlPlane) -> httpx.AsyncClient:
    """The node's kubelet API, as the API server reaches it (its kubelet client certificate)."""
    context = cp.ssl_context(cp.apiserver_kubelet_client_cert, cp.apiserver_kubelet_client_key)
    return httpx.AsyncClient(verify=context, timeout=60)


@final
@attrs.frozen
class Row:
    """One line of the suite's table."""

    fault: str
    checked: int
    wrong: int
    converge_seconds: float | None
    notes: str = ""


RESULTS: list[Row] = []


def table(rows: list[Row]) -> str:
    header = ("fault", "pods checked", "pods wrong", "time to converge", "notes")
    lines = [
        (
            r.fault,
            str(r.checked),
            str(r.wrong),
            f"{r.converge_seconds:.1f} s" if r.converge_seconds is not None else "did not",
            r.notes,
        )
        for r in rows
    ]
    widths = [max(len(x) for x in column) for column in zip(header, *lines, strict=False)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), "-+-".join("-" * w for w in widths)]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)
