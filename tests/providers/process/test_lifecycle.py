"""Pods as real processes: states, exit codes, restart policy, init containers, termination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vk_trio.provider import InvalidInputError, NotFoundError

from ._support import (
    alive,
    container,
    container_status,
    delete_and_wait,
    pod,
    running_provider,
    status_where,
)


def _terminated(status: dict[str, object]) -> dict[str, object]:
    state = container_status(status)["state"]
    assert isinstance(state, dict)
    result: dict[str, object] = state["terminated"]
    return result


async def test_never_exit_zero_succeeds_and_nonzero_fails(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, notes):
        ok = pod("ok", container("app", "true"), restart="Never")
        bad = pod("bad", container("app", "sh", "-c", "exit 3"), restart="Never")
        await provider.create_pod(ok)
        await provider.create_pod(bad)
        done = await status_where(provider, "ok", lambda s: s["phase"] == "Succeeded")
        terminated = _terminated(done)
        assert terminated["exitCode"] == 0
        assert terminated["reason"] == "Completed"
        assert str(terminated["containerID"]).startswith("process://")
        failed = await status_where(provider, "bad", lambda s: s["phase"] == "Failed")
        assert _terminated(failed)["exitCode"] == 3
        assert _terminated(failed)["reason"] == "Error"
        assert any(n["metadata"]["name"] == "ok" for n in notes.pods)
        assert (await provider.get_pod("default", "ok"))["status"]["phase"] == "Succeeded"


async def test_running_pod_is_ready_with_start_time(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("web", container("app", "sleep", "600")))
        status = await status_where(provider, "web", lambda s: s["phase"] == "Running")
        app = container_status(status)
        assert app["ready"] is True
        assert app["started"] is True
        assert "startedAt" in app["state"]["running"]
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions["Ready"] == conditions["ContainersReady"] == "True"
        assert status["podIP"] == status["hostIP"]
        assert [p["metadata"]["name"] for p in await provider.get_pods()] == ["web"]


async def test_missing_executable_is_run_container_error(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("nope", container("app", "no-such-program-vk"), restart="Never")
        )
        status = await status_where(provider, "nope", lambda s: s["phase"] == "Failed")
        waiting = container_status(status)["state"]["waiting"]
        assert waiting["reason"] == "RunContainerError"
        assert '"no-such-program-vk": executable file not found in $PATH' in waiting["message"]


async def test_on_failure_restarts_with_back_off(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(
            pod("crash", container("app", "sh", "-c", "exit 1"), restart="OnFailure")
        )
        # first restart at once, the next after 10 s: meanwhile CrashLoopBackOff
        status = await status_where(
            provider,
            "crash",
            lambda s: (
                container_status(s)["restartCount"] >= 1
                and container_status(s)["state"].get("waiting", {}).get("reason")
                == "CrashLoopBackOff"
            ),
        )
        app = container_status(status)
        assert status["phase"] == "Running"
        assert app["lastState"]["terminated"]["exitCode"] == 1
        assert "back-off 10s restarting failed container=app" in app["state"]["waiting"]["message"]


async def test_on_failure_does_not_restart_a_success(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("once", container("app", "true"), restart="OnFailure"))
        status = await status_where(provider, "once", lambda s: s["phase"] == "Succeeded")
        assert container_status(status)["restartCount"] == 0


async def test_init_containers_run_in_order_first(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        order = tmp_path / "order"
        manifest = pod(
            "init",
            container("app", "sh", "-c", f"echo app >> {order}"),
            restart="Never",
            initContainers=[
                container("first", "sh", "-c", f"sleep 0.2; echo first >> {order}"),
                container("second", "sh", "-c", f"echo second >> {order}"),
            ],
        )
        await provider.create_pod(manifest)
        pending = await status_where(provider, "init", lambda s: True)
        assert pending["phase"] == "Pending"
        status = await status_where(provider, "init", lambda s: s["phase"] == "Succeeded")
        assert order.read_text() == "first\nsecond\napp\n"
        inits = status["initContainerStatuses"]
        assert [c["state"]["terminated"]["reason"] for c in inits] == ["Completed"] * 2


async def test_failing_init_container_with_never_fails_the_pod(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        manifest = pod(
            "badinit",
            container("app", "true"),
            restart="Never",
            initContainers=[container("setup", "false")],
        )
        await provider.create_pod(manifest)
        status = await status_where(provider, "badinit", lambda s: s["phase"] == "Failed")
        assert container_status(status, "app")["state"]["waiting"]["reason"] == "PodInitializing"


async def test_delete_runs_pre_stop_then_sigterm_and_leaves_nothing(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    script = (
        f"trap 'echo term >> {trace}; exit 0' TERM; "
        "sleep 600 & child=$!; echo $child > " + str(tmp_path / "child") + "; wait"
    )
    manifest = pod(
        "graceful",
        container(
            "app",
            "sh",
            "-c",
            script,
            lifecycle={"preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> {trace}"]}}},
        ),
        terminationGracePeriodSeconds=60,
    )
    async with running_provider(tmp_path / "state") as (provider, notes):
        await provider.create_pod(manifest)
        status = await status_where(provider, "graceful", lambda s: s["phase"] == "Running")
        pid = int(container_status(status)["containerID"].removeprefix("process://"))
        await status_where(provider, "graceful", lambda s: (tmp_path / "child").exists())
        child = int((tmp_path / "child").read_text())
        await delete_and_wait(provider, manifest)
        assert trace.read_text() == "prestop\nterm\n"
        assert not alive(pid)
        assert not alive(child)
        final = notes.pods[-1]["status"]
        assert final["phase"] == "Succeeded"
        assert container_status(final)["state"]["terminated"]["exitCode"] == 0
        with pytest.raises(NotFoundError):
            await provider.get_pod("default", "graceful")
        with pytest.raises(NotFoundError):
            await provider.delete_pod(manifest)


async def test_grace_period_over_means_sigkill(tmp_path: Path) -> None:
    manifest = pod(
        "stubborn",
        container("app", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"),
    )
    manifest["metadata"]["deletionGracePeriodSeconds"] = 1
    async with running_provider(tmp_path) as (provider, notes):
        await provider.create_pod(manifest)
        await status_where(provider, "stubborn", lambda s: s["phase"] == "Running")
        await delete_and_wait(provider, manifest)
        terminated = container_status(notes.pods[-1]["status"])["state"]["terminated"]
        assert terminated["exitCode"] == 137
        assert notes.pods[-1]["status"]["phase"] == "Failed"


async def test_env_working_dir_and_bad_specs(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    out = tmp_path / "out"
    async with running_provider(tmp_path / "state") as (provider, _):
        await provider.create_pod(
            pod(
                "env",
                container(
                    "app",
                    "sh",
                    "-c",
                    f'echo "$GREETING $HOSTNAME $(pwd)" > {out}',
                    env=[{"name": "GREETING", "value": "hello"}],
                    workingDir=str(workdir),
                ),
                restart="Never",
            )
        )
        await status_where(provider, "env", lambda s: s["phase"] == "Succeeded")
        assert out.read_text() == f"hello env {workdir}\n"
        with pytest.raises(InvalidInputError, match="no command"):
            await provider.create_pod(pod("img", {"name": "app", "image": "nginx"}))
        with pytest.raises(InvalidInputError, match="type 'iscsi' is not supported"):
            await provider.create_pod(
                pod("vol", container("app", "true"), volumes=[{"name": "v", "iscsi": {}}])
            )
        with pytest.raises(InvalidInputError, match="hostPath volumes are not allowed"):
            await provider.create_pod(
                pod(
                    "hp",
                    container("app", "true"),
                    volumes=[{"name": "v", "hostPath": {"path": "/"}}],
                )
            )


async def test_run_as_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        with pytest.raises(InvalidInputError, match="need vk-trio to run as root"):
            async with running_provider(tmp_path) as (provider, _):
                await provider.create_pod(
                    pod("u", container("app", "id", securityContext={"runAsUser": 4242}))
                )
        return
    out = Path("/tmp") / f"vk-process-ids-{os.getpid()}"
    out.write_text("")
    os.chmod(out, 0o666)
    async with running_provider(tmp_path / "state") as (provider, _):
        await provider.create_pod(
            pod(
                "user",
                # pytest's temporary directories are private to root: work elsewhere
                container("app", "sh", "-c", f"id -u > {out}; id -g >> {out}", workingDir="/"),
                restart="Never",
                securityContext={"runAsUser": 4242, "runAsGroup": 4343},
            )
        )
        await status_where(provider, "user", lambda s: s["phase"] == "Succeeded")
        assert out.read_text() == "4242\n4343\n"
    out.unlink()


async def test_host_port_clash_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    ports = [{"containerPort": 18765}]
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(pod("one", container("app", "sleep", "600", ports=ports)))
        with pytest.raises(RuntimeError, match="port 18765 is already used by pod default/one"):
            await provider.create_pod(pod("two", container("app", "sleep", "600", ports=ports)))
