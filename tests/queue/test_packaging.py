"""The two distributions' metadata agree (``make queue-dist`` checks the built wheel itself)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def _project(path: Path) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(path.read_text())["project"]
    return project


def _requirements(project: dict[str, object]) -> dict[str, Requirement]:
    deps = project["dependencies"]
    assert isinstance(deps, list)
    return {Requirement(d).name: Requirement(d) for d in deps}


def test_vk_trio_queue_depends_on_trio_and_attrs_only() -> None:
    queue = _project(REPO / "packaging" / "vk-trio-queue" / "pyproject.toml")
    assert queue["name"] == "vk-trio-queue"
    assert set(_requirements(queue)) == {"trio", "attrs"}
    extras = queue["optional-dependencies"]
    assert isinstance(extras, dict)
    assert [Requirement(r).name for r in extras["prometheus"]] == ["prometheus-client"]


def test_vk_trio_pins_the_queue_and_agrees_on_shared_bounds() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    queue = _project(REPO / "packaging" / "vk-trio-queue" / "pyproject.toml")
    ours = _requirements(root["project"])
    pin = ours["vk-trio-queue"]
    assert str(pin.specifier) == f"=={queue['version']}"
    assert pin.extras == {"prometheus"}
    theirs = _requirements(queue)
    for name in ["trio", "attrs"]:
        assert ours[name].specifier == theirs[name].specifier, name
    # vk-trio ships everything but the queue, so no file belongs to both distributions.
    find = root["tool"]["setuptools"]["packages"]["find"]
    assert {"vk_trio.queue", "vk_trio.queue.*"} <= set(find["exclude"])
