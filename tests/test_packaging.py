"""The distributions build with the setuptools release their pyproject.toml declares as the
floor, offline and without build isolation, and pass ``twine check --strict``: the SPDX
``license`` string, the LICENSE file inside the wheel, the project URLs.

The floor's release series and twine are downloaded once into ``~/.cache/vk-trio/wheels``
(like ``make queue-dist`` does for its wheels); after that the test runs offline.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vk-trio" / "wheels"


def setuptools_floor(pyproject: Path) -> str:
    """The lowest setuptools the build system accepts, e.g. ``77``."""
    requires = tomllib.loads(pyproject.read_text())["build-system"]["requires"]
    (setuptools,) = [Requirement(r) for r in requires if Requirement(r).name == "setuptools"]
    (floor,) = [s.version for s in setuptools.specifier if s.operator == ">="]
    return floor


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def floor_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the floor's setuptools release series and twine, installed offline."""
    floor = setuptools_floor(REPO / "pyproject.toml")
    assert floor == setuptools_floor(REPO / "packaging" / "vk-trio-queue" / "pyproject.toml")
    wanted = (f"setuptools=={floor}.0.*", "twine")
    cache = CACHE / f"packaging-setuptools-{floor}"
    if not (cache / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        run(sys.executable, "-m", "pip", "download", "--quiet", "--dest", cache, *wanted)
        (cache / ".complete").touch()
    venv = tmp_path_factory.mktemp("floor") / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", cache, *wanted)
    version = run(python, "-c", "import setuptools; print(setuptools.__version__)").strip()
    assert version.split(".")[0] == floor
    return python


def build_wheel(python: Path, source: Path, out: Path) -> Path:
    run(
        *(python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
        *("--no-index", "--wheel-dir", out, source),
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def metadata_of(wheel: Path) -> tuple[email.message.Message, set[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(meta)), names


def copy_tree(destination: Path, *parts: str) -> None:
    for part in parts:
        source = REPO / part
        target = destination / part
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"),
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_vk_trio_wheel_with_the_floor_passes_twine_check(
    floor_python: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    copy_tree(source, "pyproject.toml", "README.md", "LICENSE", "vk_trio", "providers")
    wheel = build_wheel(floor_python, source, tmp_path / "dist")
    twine = floor_python.with_name("twine")
    assert "PASSED" in run(twine, "check", "--strict", wheel)
    meta, names = metadata_of(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    license_text = (REPO / "LICENSE").read_bytes()
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("vk_trio-0.1.0.dist-info/licenses/LICENSE") == license_text
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    # vk_trio.queue is the other distribution's; no tests in either.
    assert not [n for n in names if n.startswith("vk_trio/queue/") or "/tests/" in n]


def test_vk_trio_queue_wheel_with_the_floor_passes_twine_check(
    floor_python: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    copy_tree(source, "packaging/vk-trio-queue", "vk_trio/queue")
    (source / "packaging" / "vk-trio-queue" / "check_dist.py").unlink()
    wheel = build_wheel(floor_python, source / "packaging" / "vk-trio-queue", tmp_path / "dist")
    assert "PASSED" in run(floor_python.with_name("twine"), "check", "--strict", wheel)
    meta, names = metadata_of(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert "vk_trio_queue-0.1.0.dist-info/licenses/LICENSE" in names


def test_license_is_the_apache_2_0_text() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.strip().startswith("Apache License\n                           Version 2.0")
    assert "END OF TERMS AND CONDITIONS" in text
    assert (REPO / "packaging" / "vk-trio-queue" / "LICENSE").read_text() == text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
