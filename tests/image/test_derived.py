"""The docs' "derived image with your provider" recipe, built and run: docs/deploy.md's
Dockerfile with docs/provider.md's timer provider packaged as a wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests._controlplane import REPO_ROOT

from ._podman import SCRIPT, engine_env, podman, readable_tree, run

DOCS = REPO_ROOT / "docs"


def fenced(text: str, after: str, language: str) -> str:
    start = text.index(f"```{language}\n", text.index(after)) + len(f"```{language}\n")
    return text[start : text.index("```\n", start)]


def timer_provider_wheel(directory: Path) -> Path:
    """docs/provider.md's complete example as the package the guide names, built as a wheel
    (offline, with the development environment's setuptools)."""
    source = directory / "timer-provider"
    source.mkdir()
    (source / "timer_provider.py").write_text(
        fenced((DOCS / "provider.md").read_text(), "## A provider in one file", "python")
    )
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["setuptools>=77"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "timer-provider"
            version = "1.0"
            dependencies = ["vk-trio"]

            [project.entry-points."vk_trio.providers"]
            timer = "timer_provider:create_provider"

            [tool.setuptools]
            py-modules = ["timer_provider"]
            """
        )
    )
    wheels = directory / "wheels"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--no-index", "--wheel-dir", str(wheels), str(source)),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("timer_provider-1.0-*.whl")
    return wheel


@pytest.fixture
def derived(image: str, tmp_path: Path) -> Iterator[str]:
    context = tmp_path / "context"
    context.mkdir()
    timer_provider_wheel(context)
    recipe = fenced((DOCS / "deploy.md").read_text(), "derived-image recipe", "dockerfile")
    (context / "Dockerfile.provider").write_text(recipe)
    base = subprocess.run(
        [str(SCRIPT), "base"], capture_output=True, text=True, env=engine_env(), check=True
    ).stdout.strip()
    tag = f"localhost/vk-trio-timer-test:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        [
            *("buildah", "build", "--isolation", "chroot", "--network", "host"),
            *("-f", str(context / "Dockerfile.provider"), "-t", tag),
            *("--build-arg", f"VK_TRIO_IMAGE={image}", "--build-arg", f"PYTHON_IMAGE={base}"),
            str(context),
        ],
        capture_output=True,
        text=True,
        env=engine_env(),
        timeout=1200,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    try:
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


def test_derived_image_runs_the_provider_and_still_has_no_pip(
    image: str, derived: str, tmp_path: Path
) -> None:
    providers = run(derived, "providers")
    assert (providers.returncode, providers.stdout) == (0, "cluster\nmock\nprocess\ntimer\n")
    assert run(derived, "providers", "timer").returncode == 0
    # The provider's factory runs in the image: it refuses a configuration that is not JSON.
    serving = trustme.CA().issue_cert("vk-timer")
    serving.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    serving.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    (tmp_path / "timer.json").write_text("not json")
    readable_tree(tmp_path)
    options = [
        *("--volume", f"{tmp_path}:/etc/vk:ro"),
        *("--env", "APISERVER_CERT_LOCATION=/etc/vk/tls.crt"),
        *("--env", "APISERVER_KEY_LOCATION=/etc/vk/tls.key"),
    ]
    argv = ("--provider", "timer", "--provider-config", "/etc/vk/timer.json")
    bad = run(derived, *argv, options=options)
    assert bad.returncode == 1
    assert bad.stderr.startswith('vk-trio: provider "timer": ')
    assert "cannot read /etc/vk/timer.json" in bad.stderr
    pip = run(derived, "-m", "pip", "--version", entrypoint="python")
    assert pip.returncode != 0
    # One layer on top of the vk-trio image, small: the provider, not a second virtualenv.
    derived_info = json.loads(podman("image", "inspect", derived).stdout)[0]
    image_info = json.loads(podman("image", "inspect", image).stdout)[0]
    layers, base_layers = derived_info["RootFS"]["Layers"], image_info["RootFS"]["Layers"]
    assert layers[: len(base_layers)] == base_layers
    assert len(layers) == len(base_layers) + 1
    assert derived_info["Size"] - image_info["Size"] < 2_000_000
