"""The kubelet-API capabilities on real processes: logs, exec, attach, port-forward, stats."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from vk_trio.provider import (
    AttachIO,
    ContainerExitError,
    ContainerLogOptions,
    InvalidInputError,
    NotFoundError,
    TermSize,
)
from vk_trio_process import ProcessProvider

from ._support import container, container_status, eventually, pod, running_provider, status_where


async def _read_all(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def _logs(provider: ProcessProvider, name: str, **options: object) -> bytes:
    stream = await provider.get_container_logs(
        "default",
        name,
        "app",
        ContainerLogOptions(**options),  # type: ignore[arg-type]
    )
    async with stream:
        return await _read_all(stream)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_logs_options_and_previous(tmp_path: Path) -> None:
    # stdout and stderr are two pipes: only time orders lines across them
    script = "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; printf partial"
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("logs", container("app", "sh", "-c", script), restart="Never")
        )
        await status_where(provider, "logs", lambda s: s["phase"] == "Succeeded")
        assert await _logs(provider, "logs") == b"one\ntwo\nthree\npartial\n"
        assert await _logs(provider, "logs", tail_lines=2) == b"three\npartial\n"
        assert await _logs(provider, "logs", limit_bytes=5) == b"one\nt"
        stamped = (await _logs(provider, "logs", timestamps=True)).decode().splitlines()
        assert all(re.match(r"\d{4}-\d\d-\d\dT[\d:]{8}\.\d{9}Z \w+$", line) for line in stamped)
        future = datetime.now(UTC) + timedelta(hours=1)
        assert await _logs(provider, "logs", since_time=future) == b""
        assert await _logs(provider, "logs", since_seconds=3600) == b"one\ntwo\nthree\npartial\n"
        with pytest.raises(InvalidInputError, match="previous terminated container"):
            await _logs(provider, "logs", previous=True)
        with pytest.raises(NotFoundError, match="container nope is not valid for pod logs"):
            await provider.get_container_logs("default", "logs", "nope", ContainerLogOptions())


async def test_previous_logs_after_a_restart(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("again", container("app", "sh", "-c", "echo run; exit 1"), restart="OnFailure")
        )
        await status_where(provider, "again", lambda s: container_status(s)["restartCount"] >= 1)
        assert await _logs(provider, "again", previous=True) == b"run\n"


async def test_follow_streams_until_the_container_ends(tmp_path: Path) -> None:
    script = "for i in 1 2 3; do echo line $i; sleep 0.3; done"
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("follow", container("app", "sh", "-c", script), restart="Never")
        )
        await status_where(provider, "follow", lambda s: s["phase"] != "Pending")
        assert await _logs(provider, "follow", follow=True) == b"line 1\nline 2\nline 3\n"


async def test_exec_output_exit_code_and_missing_program(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("ex", container("app", "sleep", "600", env=[{"name": "WHO", "value": "pod"}]))
        )
        await status_where(provider, "ex", lambda s: s["phase"] == "Running")
        out_send, out_receive = trio.testing.memory_stream_pair()
        await provider.run_in_container(
            "default", "ex", "app", ["sh", "-c", "echo $WHO"], AttachIO(stdout=out_send)
        )
        assert await out_receive.receive_some() == b"pod\n"
        with pytest.raises(ContainerExitError) as failed:
            await provider.run_in_container(
                "default", "ex", "app", ["sh", "-c", "exit 7"], AttachIO()
            )
        assert failed.value.exit_code == 7
        with pytest.raises(ContainerExitError) as missing:
            await provider.run_in_container("default", "ex", "app", ["no-such-vk"], AttachIO())
        assert missing.value.exit_code == 127
        stdin_send, stdin_receive = trio.testing.memory_stream_pair()
        out_send, out_receive = trio.testing.memory_stream_pair()
        await stdin_send.send_all(b"piped\n")
        await stdin_send.send_eof()
        await provider.run_in_container(
            "default", "ex", "app", ["cat"], AttachIO(stdin=stdin_receive, stdout=out_send)
        )
        assert await out_receive.receive_some() == b"piped\n"


async def test_exec_with_a_tty_and_resize(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("tty", container("app", "sleep", "600")))
        await status_where(provider, "tty", lambda s: s["phase"] == "Running")
        out_send, out_receive = trio.testing.memory_stream_pair()
        send_size, sizes = trio.open_memory_channel[TermSize](4)
        await send_size.send(TermSize(width=91, height=33))
        io = AttachIO(stdout=out_send, tty=True, resize=sizes)
        # the resize is applied before the shell looks (it sleeps first)
        await provider.run_in_container(
            "default", "tty", "app", ["sh", "-c", "sleep 0.5; test -t 0 && stty size"], io
        )
        output = b""
        with trio.move_on_after(10):
            while b"33 91" not in output:
                output += await out_receive.receive_some()
        assert b"33 91" in output


async def test_port_forward_reaches_the_pods_port(tmp_path: Path) -> None:
    port = _free_port()
    server = ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    probe = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("web", container("app", *server, readinessProbe=probe, workingDir=str(tmp_path)))
        )
        (tmp_path / "hello.txt").write_text("hello from the pod\n")
        status = await status_where(provider, "web", lambda s: container_status(s)["ready"])
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
        client, server_side = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(provider.port_forward, "default", "web", port, server_side)
            await client.send_all(b"GET /hello.txt HTTP/1.0\r\nHost: x\r\n\r\n")
            await client.send_eof()
            answer = await _read_all(client)
        assert answer.startswith(b"HTTP/1.0 200")
        assert answer.endswith(b"hello from the pod\n")


async def test_failing_liveness_probe_restarts_the_container(tmp_path: Path) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod(
                "live",
                container("app", "sleep", "600", livenessProbe=probe),
                terminationGracePeriodSeconds=1,
            )
        )
        status = await status_where(
            provider, "live", lambda s: container_status(s)["restartCount"] >= 1
        )
        last = container_status(status)["lastState"]["terminated"]
        assert last["message"].startswith("Container failed liveness probe")
        assert last["exitCode"] == 143


async def test_stats_show_cpu_of_a_busy_loop(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("busy", container("app", "sh", "-c", "while :; do :; done")))
        await status_where(provider, "busy", lambda s: s["phase"] == "Running")

        async def busy() -> dict[str, object] | None:
            summary = await provider.get_stats_summary()
            pods = [p for p in summary["pods"] if p["podRef"]["name"] == "busy"]
            containers = pods[0]["containers"] if pods else []
            if containers and containers[0]["cpu"].get("usageNanoCores", 0) > 0:
                return summary
            await trio.sleep(0.5)
            return None

        summary = await eventually(busy)
        app = summary["pods"][0]["containers"][0]
        assert app["memory"]["rssBytes"] > 0
        assert app["memory"]["workingSetBytes"] > 0
        assert summary["node"]["memory"]["workingSetBytes"] > 0
        families = {f.name: f for f in await provider.get_metrics_resource()}
        sample = families["container_cpu_usage_seconds_total"].samples[0]
        assert sample.labels == (("container", "app"), ("namespace", "default"), ("pod", "busy"))
        assert sample.value > 0
        assert families["container_start_time_seconds"].samples[0].value > 0


async def test_attach_sees_new_output_and_feeds_stdin(tmp_path: Path) -> None:
    script = "while read line; do echo got $line; done"
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("att", container("app", "sh", "-c", script, stdin=True)))
        await status_where(provider, "att", lambda s: s["phase"] == "Running")
        stdin_send, stdin_receive = trio.testing.memory_stream_pair()
        out_send, out_receive = trio.testing.memory_stream_pair()
        io = AttachIO(stdin=stdin_receive, stdout=out_send)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(provider.attach_to_container, "default", "att", "app", io)
            await stdin_send.send_all(b"hello\n")
            output = b""
            with trio.move_on_after(30):
                while b"got hello\n" not in output:
                    output += await out_receive.receive_some()
            nursery.cancel_scope.cancel()
        assert b"got hello\n" in output
