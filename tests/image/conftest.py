"""The container image, built once per session by ``scripts/image build`` (what ``make image``
runs) before the tests start, outside every test's timeout: a cold build (the stand-in base,
every dependency) takes minutes, a warm one reuses the cached layers.

If the build fails, every image test fails with its output; none is skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

import pytest

from tests._controlplane import REPO_ROOT

from ._podman import IMAGE, engine_env

_BUILD_ERROR = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    if config.option.collectonly or not any(str(i.path).startswith(here) for i in items):
        return
    error = build(engine_env())
    if error:
        config.stash[_BUILD_ERROR] = error


def build(env: Mapping[str, str]) -> str | None:
    """``scripts/image build IMAGE``; the error text, or None when it worked."""
    try:
        proc = subprocess.run(
            [str(REPO_ROOT / "scripts" / "image"), "build", IMAGE],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=3600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "scripts/image build did not finish within an hour"
    if proc.returncode != 0:
        return f"scripts/image build failed ({proc.returncode}): {proc.stderr[-4000:]}"
    return None


@pytest.fixture(scope="session")
def image(request: pytest.FixtureRequest) -> str:
    """The tag of the freshly built image."""
    if error := request.config.stash.get(_BUILD_ERROR, None):
        pytest.fail(f"image unavailable: {error}", pytrace=False)
    return IMAGE
