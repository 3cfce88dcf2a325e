"""podman as the image tests drive it: the project's engine settings, containers that are
always removed, and their logs on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from tests._controlplane import REPO_ROOT
from vk_trio import __version__

IMAGE: Final = f"vk-trio:{__version__}"
SCRIPT: Final = REPO_ROOT / "scripts" / "image"


def engine_env() -> dict[str, str]:
    """The environment ``scripts/image`` gives podman (its containers.conf unless one is set)."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(REPO_ROOT / "scripts" / "image-containers.conf"))
    return env


def podman(
    *args: str, check: bool = True, timeout: float = 300.0, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["podman", *args],
        capture_output=True,
        text=True,
        env=engine_env(),
        timeout=timeout,
        input=input,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {proc.returncode}: {proc.stderr[-3000:]}")
    return proc


def run(
    image: str, *args: str, entrypoint: str | None = None, options: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """A one-off command in the image, hardened as in the Deployment (read-only root, not
    even a writable /tmp, no capabilities); ``options`` go to ``podman run``."""
    extra = ["--entrypoint", entrypoint] if entrypoint else []
    return podman("run", "--rm", *HARDENED, *extra, *options, image, *args, check=False)


#: What deploy/deployment.yaml asks of the runtime: read-only root filesystem (podman would
#: mount a tmpfs on /tmp and /run: not even that), no capabilities, no privilege escalation.
HARDENED: Final = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


@contextlib.contextmanager
def container(
    image: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    mounts: Mapping[Path, str],
    name_hint: str,
) -> Iterator[str]:
    """A detached container on the host network (the API server and the test reach it on
    127.0.0.1, as it reaches them); removed at the end, its log attached to any failure."""
    name = f"vk-trio-test-{name_hint}-{uuid.uuid4().hex[:6]}"
    command = ["run", "--detach", "--name", name, "--network=host", *HARDENED]
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    for source, target in mounts.items():
        command += ["--volume", f"{source}:{target}:ro"]
    podman(*command, image, *args)
    try:
        yield name
    except BaseException as exc:
        log = podman("logs", name, check=False)
        exc.add_note(f"container log:\n{(log.stdout + log.stderr)[-6000:]}")
        raise
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def readable_tree(root: Path) -> None:
    """Make ``root`` readable by the image's user (10001): pytest's directories are 0700."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
