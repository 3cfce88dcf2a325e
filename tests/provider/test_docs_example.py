"""The examples in docs/provider.md are real code: the provider in one file type-checks and
works, and the ten-line conformance test written for it passes the kit."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.provider import (
    InvalidInputError,
    NodeConfigurer,
    NodeProvider,
    NotFoundError,
    PodLifecycleHandler,
    PodNotifier,
    ProviderConfig,
    Runnable,
)

ROOT = Path(__file__).resolve().parents[2]


def _code_after(heading: str) -> str:
    text = (ROOT / "docs" / "provider.md").read_text()
    start = text.index("```python\n", text.index(heading)) + len("```python\n")
    return text[start : text.index("```\n", start)]


def example_source() -> str:
    return _code_after("## A provider in one file")


def kit_source() -> str:
    return _code_after("## Tested with the kit in ten lines")


@pytest.fixture
def example(tmp_path: Path) -> ModuleType:
    path = tmp_path / "timer_provider.py"
    path.write_text(example_source())
    spec = importlib.util.spec_from_file_location("timer_provider", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pod(name: str, seconds: str = "5") -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "annotations": {"timer.example.com/seconds": seconds},
        },
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def test_example_type_checks_strictly(tmp_path: Path) -> None:
    path = tmp_path / "timer_provider.py"
    path.write_text(example_source())
    kit = tmp_path / "test_timer_provider.py"
    kit.write_text(kit_source())
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, str(path), str(kit)],
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def make(example: ModuleType, tmp_path: Path, text: str | None = None) -> Any:
    path = None
    if text is not None:
        path = tmp_path / "timer.json"
        path.write_text(text)
    config = ProviderConfig(
        provider_name="timer",
        node_name="vk-timer",
        config_path=None if path is None else str(path),
        internal_ip="10.9.9.9",
        daemon_port=10251,
    )
    return example.create_provider(config)


def test_capabilities(example: ModuleType, tmp_path: Path) -> None:
    provider = make(example, tmp_path)
    for protocol in (PodLifecycleHandler, PodNotifier, NodeConfigurer, Runnable):
        assert isinstance(provider, protocol)
    assert not isinstance(provider, NodeProvider)


def test_factory_configuration(example: ModuleType, tmp_path: Path) -> None:
    node: dict[str, Any] = {}
    make(example, tmp_path, '{"maxPods": 7}').configure_node(node)
    assert node["status"]["capacity"]["pods"] == "7"
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "10.9.9.9"}]
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10251}}
    with pytest.raises(InvalidInputError, match="maxPods must be a positive integer"):
        make(example, tmp_path, '{"maxPods": 0}')
    with pytest.raises(InvalidInputError, match="cannot read"):
        make(example, tmp_path, "{")


async def test_pods_run_for_their_annotation_then_succeed(
    example: ModuleType, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    provider = make(example, tmp_path)
    seen: list[tuple[str, str, str]] = []

    def record(p: dict[str, Any]) -> None:
        state = next(iter(p["status"]["containerStatuses"][0]["state"]))
        seen.append((p["metadata"]["name"], p["status"]["phase"], state))

    provider.notify_pods(record)
    async with trio.open_nursery() as nursery:
        await nursery.start(provider.run)
        await provider.create_pod(pod("short", "5"))
        await provider.create_pod(pod("long", "60"))
        assert seen == [("short", "Running", "running"), ("long", "Running", "running")]
        await trio.sleep(10)
        assert seen[-1] == ("short", "Succeeded", "terminated")
        assert (await provider.get_pod_status("ns", "long"))["phase"] == "Running"
        await provider.delete_pod(pod("long"))
        assert seen[-1] == ("long", "Succeeded", "terminated")
        with pytest.raises(NotFoundError):
            await provider.get_pod("ns", "long")
        await trio.sleep(100)  # the cancelled timer never fires
        assert len(seen) == 4
        await provider.delete_pod(pod("short"))  # finished pods are removed without a notification
        assert len(seen) == 4
        assert await provider.get_pods() == []
        with pytest.raises(NotFoundError):
            await provider.delete_pod(pod("short"))
        with pytest.raises(InvalidInputError):
            await provider.create_pod(pod("bad", "soon"))
        nursery.cancel_scope.cancel()


def test_the_kit_usage_is_ten_lines() -> None:
    assert len([line for line in kit_source().splitlines() if line.strip()]) <= 10


def test_the_example_passes_the_kit_as_documented(tmp_path: Path) -> None:
    """Run the documented test the way a provider author would: its own directory, pytest with
    pytest-trio but none of this repository's configuration (no ``trio_mode``)."""
    (tmp_path / "timer_provider.py").write_text(example_source())
    (tmp_path / "test_timer_provider.py").write_text(kit_source())
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rA"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = sorted(
        line.split("[", 1)[1].split("]", 1)[0]
        for line in result.stdout.splitlines()
        if line.startswith("PASSED ")
    )
    assert passed == sorted(
        [
            "lifecycle",
            "not-found",
            "delete-is-idempotent",
            "concurrent-pods",
            "cancellation",
            "notifications",
            "not-applicable:logs,exec,attach,port-forward,stats,metrics",
        ]
    ), output
    assert " skipped" not in output and "SKIPPED" not in output, output
