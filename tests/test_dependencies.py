"""Dependency hygiene: what pyproject.toml promises is what the tests run against."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def requirements() -> dict[str, str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    out: dict[str, str] = {}
    for line in project["dependencies"]:
        name = line.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        out[name.lower()] = line
    return out


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = version.split(".")
    return int(major), int(minor_)


def test_pinned_libraries_span_the_one_tested_minor_version() -> None:
    # hypercorn (a private per-connection server API) and httpx (a private URL field on the
    # client's hot path) are pinned to one minor version: the one installed here and tested.
    deps = requirements()
    for name in ("hypercorn", "httpx"):
        installed = minor(metadata.version(name))
        low, high = installed, (installed[0], installed[1] + 1)
        spec = deps[name]
        assert f">={low[0]}.{low[1]}" in spec, (spec, installed)
        assert f"<{high[0]}.{high[1]}" in spec, (spec, installed)


def test_trio_websocket_is_not_a_runtime_dependency() -> None:
    assert "trio-websocket" not in requirements()
    code = (
        "import sys; sys.modules['trio_websocket'] = None\n"
        "import vk_trio.api, vk_trio.api.streams, vk_trio.cli, vk_trio.node, vk_trio_mock\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
