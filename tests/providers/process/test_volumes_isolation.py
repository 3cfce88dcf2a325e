"""Volumes (files, modes, the ..data swap) and the two isolation modes, with real processes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import trio
import trio.testing

from vk_trio.provider import AttachIO, ContainerExitError, ContainerLogOptions, InvalidInputError
from vk_trio_process import ProcessProvider, parse_process_config
from vk_trio_process._volumes import render_volumes

from ._support import (
    Lookup,
    alive,
    container,
    container_status,
    pod,
    running_provider,
    status_where,
)


def _volumes() -> list[dict[str, object]]:
    return [
        {"name": "conf", "configMap": {"name": "settings", "defaultMode": 0o640}},
        {
            "name": "creds",
            "secret": {"secretName": "creds", "items": [{"key": "pw", "path": "p/w"}]},
        },
        {
            "name": "info",
            "downwardAPI": {
                "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
            },
        },
        {"name": "scratch", "emptyDir": {}},
    ]


def _mounts() -> list[dict[str, object]]:
    return [
        {"name": "conf", "mountPath": "/etc/vk-process-test/conf"},
        {"name": "creds", "mountPath": "/etc/vk-process-test/creds", "readOnly": True},
        {"name": "info", "mountPath": "/etc/vk-process-test/info"},
        {"name": "scratch", "mountPath": "/etc/vk-process-test/scratch"},
    ]


def _lookup() -> Lookup:
    lookup = Lookup()
    lookup.config_maps["default", "settings"] = {"data": {"greeting": "hello"}}
    lookup.secrets["default", "creds"] = {"data": {"pw": base64.b64encode(b"s3cret").decode()}}
    return lookup


async def _exec(provider: ProcessProvider, name: str, *command: str) -> bytes:
    out_send, out_receive = trio.testing.memory_stream_pair()
    await provider.run_in_container(
        "default", name, "app", list(command), AttachIO(stdout=out_send)
    )
    await out_send.aclose()
    data = b""
    while chunk := await out_receive.receive_some():
        data += chunk
    return data


async def test_volumes_without_isolation_live_under_vk_trio_root(tmp_path: Path) -> None:
    lookup = _lookup()
    manifest = pod(
        "vols", container("app", "sleep", "600", volumeMounts=_mounts()), volumes=_volumes()
    )
    manifest["metadata"]["labels"] = {"app": "vols"}
    async with running_provider(tmp_path, lookup=lookup) as (provider, _):
        await provider.create_pod(manifest)
        await status_where(provider, "vols", lambda s: s["phase"] == "Running")
        read = await _exec(
            provider,
            "vols",
            "sh",
            "-c",
            'cd "$VK_TRIO_ROOT/etc/vk-process-test" && cat conf/greeting creds/p/w info/labels'
            " && stat -L -c %a conf/greeting && touch scratch/x && pwd",
        )
        # files hold exactly the values (no newline added), as at the kubelet
        assert read.startswith(b'hellos3cretapp="vols"640\n')
        # the kubelet's layout: names are links through ..data into a timestamped directory
        volume = provider.pods_dir / manifest["metadata"]["uid"] / "volumes" / "conf"
        assert os.readlink(volume / "greeting") == "..data/greeting"
        before = os.readlink(volume / "..data")
        lookup.config_maps["default", "settings"] = {"data": {"greeting": "changed"}}
        assert render_volumes(volume.parent, manifest, lookup, only_rendered=True) == ["conf"]
        assert os.readlink(volume / "..data") != before
        assert (volume / "greeting").read_text() == "changed"
        assert not (volume / before).exists()


async def test_a_missing_config_map_is_retried(tmp_path: Path) -> None:
    async with running_provider(tmp_path) as (provider, _):
        with pytest.raises(RuntimeError, match='volumes not ready: configmap "settings" not found'):
            await provider.create_pod(pod("wait", container("app", "true"), volumes=_volumes()[:1]))


async def test_namespaces_give_hostname_pid_namespace_and_mounts(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        with pytest.raises(InvalidInputError, match="needs vk-trio to run as root"):
            parse_process_config({"isolation": "namespaces"})
        return
    mounts = _mounts()
    manifest = pod(
        "isolated",
        container("app", "sleep", "600", volumeMounts=mounts),
        volumes=_volumes(),
    )
    manifest["metadata"]["labels"] = {"app": "iso"}
    async with running_provider(tmp_path, isolation="namespaces", lookup=_lookup()) as (
        provider,
        _,
    ):
        await provider.create_pod(manifest)
        status = await status_where(provider, "isolated", lambda s: s["phase"] == "Running")
        assert await _exec(provider, "isolated", "hostname") == b"isolated\n"
        assert (
            await _exec(provider, "isolated", "cat", "/etc/vk-process-test/conf/greeting")
            == b"hello"
        )
        # the host's mount table is untouched: the directory exists, the file does not
        assert not await trio.Path("/etc/vk-process-test/conf/greeting").exists()
        # read-only mount
        with pytest.raises(ContainerExitError):
            await _exec(provider, "isolated", "touch", "/etc/vk-process-test/creds/new")
        # PID namespace: the pod sees only its own processes
        ps = await _exec(provider, "isolated", "sh", "-c", "ls /proc | grep -c '^[0-9]'")
        assert int(ps) < 10
        pid = int(container_status(status)["containerID"].removeprefix("process://"))
    assert not alive(pid)
    assert not await trio.Path("/etc/vk-process-test").exists()


async def test_memory_limit_ends_oom_killed(tmp_path: Path) -> None:
    hog = "b = []\nwhile True: b.append(bytearray(16 * 1024 * 1024))"
    manifest = pod(
        "hog",
        container("app", "python3", "-c", hog, resources={"limits": {"memory": "64Mi"}}),
        restart="Never",
    )
    async with running_provider(tmp_path) as (provider, _):
        await provider.create_pod(manifest)
        status = await status_where(provider, "hog", lambda s: s["phase"] == "Failed")
        terminated = container_status(status)["state"]["terminated"]
        assert terminated["reason"] == "OOMKilled"
        assert terminated["exitCode"] == 137


async def test_a_restarted_provider_re_adopts_running_pods(tmp_path: Path) -> None:
    manifest = pod(
        "keep", container("app", "sh", "-c", "while true; do echo tick; sleep 0.2; done")
    )
    async with trio.open_nursery() as nursery:
        first = ProcessProvider(
            node_name="n",
            config=parse_process_config({"stateDir": str(tmp_path), "isolation": "none"}),
            resources=Lookup(),
        )
        scope = trio.CancelScope()

        async def run_first(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await first.run(task_status=task_status)

        await nursery.start(run_first)
        await first.create_pod(manifest)
        status = await status_where(first, "keep", lambda s: s["phase"] == "Running")
        container_id = container_status(status)["containerID"]
        scope.cancel()  # vk-trio stops: the process stays
    pid = int(container_id.removeprefix("process://"))
    assert alive(pid)
    await trio.sleep(0.5)  # it keeps writing while nobody reads
    async with running_provider(tmp_path) as (second, _):
        status = await status_where(second, "keep", lambda s: s["phase"] == "Running")
        assert container_status(status)["containerID"] == container_id
        assert container_status(status)["restartCount"] == 0
        logs = await second.get_container_logs("default", "keep", "app", ContainerLogOptions())
        assert (await logs.receive_some()).startswith(b"tick")
    assert not alive(pid)
