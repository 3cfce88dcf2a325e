"""kubectl logs/exec/attach/port-forward and node-proxy stats through the real API server to
our kubelet API (mock provider), with kubectl's default WebSocket transport (translated to SPDY
by the API server) and with plain SPDY."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import termios
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio_mock import MockConfig, MockLogs

from ._kubelet_api_support import (
    TRANSPORTS,
    background_process,
    issue_certificate,
    kubectl,
    kubectl_command,
    kubelet_node,
    namespace_host,
)


async def test_logs_with_tail_since_limit_and_timestamps(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with kubelet_node(controlplane, "logs") as vk:
        await vk.running_pod(namespace, "web")
        ns = ("-n", namespace)
        result = await kubectl(controlplane, "logs", *ns, "web")
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout
            == (
                f"mock log line 1 of {namespace}/web/app\nmock log line 2 of {namespace}/web/app\n"
                f"mock log line 3 of {namespace}/web/app\n"
            ).encode()
        )
        tail = await kubectl(controlplane, "logs", *ns, "web", "--tail=1")
        assert tail.stdout == f"mock log line 3 of {namespace}/web/app\n".encode()
        # History lines are a minute apart, the last at creation: 90 s reach back two lines.
        since = await kubectl(controlplane, "logs", *ns, "web", "--since=90s")
        assert since.stdout.count(b"\n") == 2
        assert since.stdout.startswith(b"mock log line 2")
        limited = await kubectl(controlplane, "logs", *ns, "web", "--limit-bytes=10")
        assert limited.stdout == b"mock log l"
        stamped = await kubectl(controlplane, "logs", *ns, "web", "--timestamps", "--tail=2")
        lines = stamped.stdout.decode().splitlines()
        assert len(lines) == 2
        assert all(
            re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z mock log line", x) for x in lines
        )
        missing = await kubectl(controlplane, "logs", *ns, "web", "-c", "nope")
        assert missing.returncode != 0
        assert b"container nope is not valid for pod web" in missing.stderr


async def test_logs_follow_streams_lines_as_they_are_written(
    controlplane: ControlPlane, namespace: str
) -> None:
    config = MockConfig(logs=MockLogs(lines=1, interval=0.5))
    async with kubelet_node(controlplane, "follow", mock_config=config) as vk:
        await vk.running_pod(namespace, "web")
        command = kubectl_command(controlplane, "logs", "-f", "-n", namespace, "web")
        async with background_process(command, stdout=-1) as process:
            assert process.stdout is not None
            received = b""
            arrivals: list[float] = []
            with trio.fail_after(WAIT):
                while received.count(b"\n") < 4:
                    chunk = await process.stdout.receive_some()
                    assert chunk, "kubectl logs -f ended"
                    received += chunk
                    arrivals.append(trio.current_time())
            process.terminate()
        lines = received.decode().splitlines()
        assert lines[:4] == [f"mock log line {i} of {namespace}/web/app" for i in range(1, 5)]
        # Streamed, not buffered: the followed lines arrived one by one, about 0.5 s apart.
        assert arrivals[-1] - arrivals[0] >= 0.8


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_exec_output_stdin_and_exit_codes(
    controlplane: ControlPlane, namespace: str, transport: str
) -> None:
    env = TRANSPORTS[transport]
    async with kubelet_node(controlplane, f"exec-{transport}") as vk:
        await vk.running_pod(namespace, "web")
        ns = ("-n", namespace)
        echo = await kubectl(controlplane, "exec", *ns, "web", "--", "echo", "hello", env=env)
        assert (echo.returncode, echo.stdout, echo.stderr) == (0, b"hello\n", b"")
        both = await kubectl(
            controlplane, "exec", *ns, "web", "--", "sh", "-c", "echo out; echoerr err", env=env
        )
        assert (both.stdout, both.stderr) == (b"out\n", b"err\n")
        piped = await kubectl(
            controlplane, "exec", "-i", *ns, "web", "--", "cat", env=env, stdin=b"a\nb\n" * 1000
        )
        assert (piped.returncode, piped.stdout) == (0, b"a\nb\n" * 1000)
        failed = await kubectl(controlplane, "exec", *ns, "web", "--", "exit", "7", env=env)
        assert failed.returncode == 7
        assert failed.stderr == b"command terminated with exit code 7\n"
        unknown = await kubectl(controlplane, "exec", *ns, "web", "--", "ls", env=env)
        assert unknown.returncode == 127
        assert b"ls: command not found" in unknown.stderr
        env_out = await kubectl(controlplane, "exec", *ns, "web", "--", "env", env=env)
        assert b"HOSTNAME=web\n" in env_out.stdout


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_exec_with_a_tty_follows_resizes(
    controlplane: ControlPlane, namespace: str, transport: str
) -> None:
    async with kubelet_node(controlplane, f"tty-{transport}") as vk:
        await vk.running_pod(namespace, "web")
        master, slave = pty.openpty()
        _set_size(slave, rows=30, cols=100)
        env = {**os.environ, **TRANSPORTS[transport]}
        command = kubectl_command(controlplane, "exec", "-it", "-n", namespace, "web", "--", "sh")
        output = _PtyReader(master)
        try:
            async with background_process(
                command, stdin=slave, stdout=slave, stderr=slave, env=env
            ) as process:
                os.close(slave)
                await output.wait_for(b"$ ")
                await output.write(b"size\r")
                await output.wait_for(b"100x30")
                _set_size(master, rows=40, cols=120)
                process.send_signal(signal.SIGWINCH)
                # A resize travels on its own stream; ask until the shell has seen it.
                with trio.fail_after(WAIT):
                    while b"120x40" not in output.data:
                        await output.write(b"size\r")
                        await output.wait_for(b"$ ", start=len(output.data))
                await output.write(b"exit 4\r")
                with trio.fail_after(WAIT):
                    await process.wait()
                assert process.returncode == 4
        finally:
            os.close(master)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_attach_to_the_mock_shell(
    controlplane: ControlPlane, namespace: str, transport: str
) -> None:
    async with kubelet_node(controlplane, f"attach-{transport}") as vk:
        await vk.running_pod(namespace, "web")
        result = await kubectl(
            controlplane,
            "attach",
            "-i",
            "-n",
            namespace,
            "web",
            env=TRANSPORTS[transport],
            stdin=b"hello attach\nexit\n",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"mock container attached\nhello attach\n"


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_port_forward_carries_http_requests(
    controlplane: ControlPlane, namespace: str, transport: str
) -> None:
    async with kubelet_node(controlplane, f"pf-{transport}") as vk:
        await vk.running_pod(namespace, "web")
        command = kubectl_command(
            controlplane, "port-forward", "-n", namespace, "pod/web", ":8080", ":9090"
        )
        env = {**os.environ, **TRANSPORTS[transport]}
        async with background_process(command, stdout=-1, env=env) as process:
            assert process.stdout is not None
            text = b""
            with trio.fail_after(WAIT):
                while text.count(b"Forwarding from 127.0.0.1") < 2:
                    chunk = await process.stdout.receive_some()
                    assert chunk, "kubectl port-forward ended"
                    text += chunk
            ports = dict(
                (int(remote), int(local))
                for local, remote in re.findall(rb"127\.0\.0\.1:(\d+) -> (\d+)", text)
            )
            async with httpx.AsyncClient() as client:
                for remote in (8080, 9090):
                    for attempt in range(2):  # two requests: two forwarded connections
                        response = await client.post(
                            f"http://127.0.0.1:{ports[remote]}/hello?n={attempt}", content=b"hi"
                        )
                        assert response.status_code == 200
                        body = response.text
                        assert body.startswith(
                            f"mock echo server, pod {namespace}/web, port {remote}\n"
                        )
                        assert f"POST /hello?n={attempt} HTTP/1.1\n" in body
                        assert body.endswith("\n\nhi")
            process.terminate()


async def test_node_proxy_stats_summary_and_metrics_resource(
    controlplane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        await _node_proxy(controlplane, namespace, tmp_path, stack)


async def _node_proxy(
    controlplane: ControlPlane, namespace: str, tmp_path: Path, stack: contextlib.ExitStack
) -> None:
    # The API server will not proxy to loopback: the node advertises a test host in a network
    # namespace of the test's own (relaying to our server), with a certificate for that address
    # signed by the harness CA the API server trusts for kubelets.
    host = stack.enter_context(namespace_host())
    serving = issue_certificate(
        controlplane, tmp_path, common_name="vk-api-kubelet", ip_addresses=[host.inner], server=True
    )
    async with kubelet_node(
        controlplane,
        "proxy",
        address=host.outer,
        advertise=host.inner,
        relay=host.relay,
        serving=serving,
    ) as vk:
        await vk.running_pod(namespace, "web")
        base = f"/api/v1/nodes/{vk.name}/proxy"
        summary = await kubectl(controlplane, "get", "--raw", f"{base}/stats/summary")
        assert summary.returncode == 0, summary.stderr
        document = orjson.loads(summary.stdout)
        assert document["node"]["nodeName"] == vk.name
        [pod] = document["pods"]
        assert pod["podRef"]["name"] == "web" and pod["podRef"]["namespace"] == namespace
        metrics = await kubectl(controlplane, "get", "--raw", f"{base}/metrics/resource")
        assert metrics.returncode == 0, metrics.stderr
        text = metrics.stdout.decode()
        assert "# TYPE node_cpu_usage_seconds_total counter\n" in text
        pod_line = f'pod_memory_working_set_bytes{{namespace="{namespace}",pod="web"}} 100 '
        assert pod_line in text
        assert f'container_start_time_seconds{{container="app",namespace="{namespace}"' in text
        pods = await kubectl(controlplane, "get", "--raw", f"{base}/pods")
        assert pods.returncode == 0, pods.stderr
        listed = orjson.loads(pods.stdout)
        assert listed["kind"] == "PodList"
        assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]


def _set_size(fd: int, *, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class _PtyReader:
    """Reads the pty master without blocking trio."""

    def __init__(self, master: int) -> None:
        self._stream = trio.lowlevel.FdStream(os.dup(master))
        self.data = b""

    async def write(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def wait_for(self, needle: bytes, *, start: int = 0, timeout: float = WAIT) -> None:
        with trio.fail_after(timeout):
            while needle not in self.data[start:]:
                try:
                    chunk = await self._stream.receive_some()
                except OSError:  # EIO: the other side of the pty closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"pty closed before {needle!r}: {self.data!r}")
                self.data += chunk


async def test_official_python_client_stream_exec(
    controlplane: ControlPlane, namespace: str
) -> None:
    """kubernetes.stream.stream() speaks WebSocket v4.channel.k8s.io to the API server."""
    async with kubelet_node(controlplane, "pyclient") as vk:
        await vk.running_pod(namespace, "web")

        def run() -> tuple[str, int | None, str]:
            from kubernetes import client, config  # noqa: PLC0415 - heavy import, this test only
            from kubernetes.stream import stream  # noqa: PLC0415

            new_client: Any = config.new_client_from_config
            api = client.CoreV1Api(new_client(str(controlplane.kubeconfig)))

            def session(command: list[str], *, stdin: bool = False) -> Any:
                # _preload_content=False hands back the WSClient, which we close ourselves (the
                # preloading path of the client leaves its socket open).
                return stream(
                    api.connect_get_namespaced_pod_exec,
                    "web",
                    namespace,
                    command=command,
                    stderr=True,
                    stdin=stdin,
                    stdout=True,
                    tty=False,
                    _preload_content=False,
                )

            def finish(ws: Any) -> None:
                # websocket-client's close() skips closing the socket once the server has
                # closed the WebSocket; shutdown() closes it.
                ws.close()
                ws.sock.shutdown()

            echo = session(["echo", "from", "python"])
            echo.run_forever(timeout=WAIT)
            output = echo.read_stdout()
            finish(echo)
            cat = session(["cat"], stdin=True)
            cat.write_stdin("typed in\n")
            echoed = ""
            while "typed in" not in echoed:
                cat.update(timeout=5)
                echoed += cat.read_stdout(timeout=5) or ""
            finish(cat)
            failing = session(["exit", "6"])
            failing.run_forever(timeout=WAIT)
            returncode = failing.returncode
            finish(failing)
            api.api_client.close()
            return str(output), returncode, echoed

        output, returncode, echoed = await trio.to_thread.run_sync(run)
        assert output == "from python\n"
        assert echoed == "typed in\n"
        assert returncode == 6
