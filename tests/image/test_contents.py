"""What the runtime image holds, and what it does not: no pip, no compiler, no tests."""

from __future__ import annotations

import json

from vk_trio import __version__

from ._podman import podman, run

#: A shell script run in the image, printing one JSON object with what the test checks.
_INSPECT = r"""
import json, os, shutil, subprocess, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
tests = sorted(
    os.path.relpath(os.path.join(d, n), site)
    for d, dirs, _ in os.walk(site) for n in dirs if n in ("tests", "test", "_tests")
)
tools = {t: shutil.which(t) for t in ("pip", "pip3", "gcc", "cc", "c++", "g++", "make")}
pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
wheels = sorted(  # what ensurepip would bootstrap pip from (python.org and Debian layouts)
    os.path.join(d, n)
    for root in ("/usr/lib", "/usr/local/lib", "/usr/share")
    for d, _, files in os.walk(root) for n in files
    if n.startswith(("pip-", "setuptools-")) and n.endswith(".whl")
)
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "tests": tests, "tools": tools,
    "pip_exit": pip.returncode, "wheels": wheels,
    "aio": os.path.exists(os.path.join(site, "kubernetes", "aio")),
    "executable": sys.executable,
}))
"""


def test_runtime_image_has_no_pip_compiler_or_tests(image: str) -> None:
    result = run(image, "-c", _INSPECT, entrypoint="python")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["uid"], found["gid"]) == (10001, 10001)
    assert found["executable"] == "/opt/vk-trio/bin/python"
    assert found["tools"] == dict.fromkeys(("pip", "pip3", "gcc", "cc", "c++", "g++", "make"))
    assert found["pip_exit"] != 0
    assert found["wheels"] == []
    assert found["tests"] == []
    assert found["aio"] is False


def test_version_providers_and_entry_point(image: str) -> None:
    version = run(image, "version")
    assert (version.returncode, version.stdout) == (0, f"vk-trio {__version__}\n")
    providers = run(image, "providers")
    assert (providers.returncode, providers.stdout) == (0, "cluster\nmock\nprocess\n")
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "vk-trio"]
    assert config["User"] == "10001:10001"
    assert config.get("StopSignal", "SIGTERM") == "SIGTERM"


def test_a_misconfiguration_is_one_line_in_the_container(image: str) -> None:
    """The read-only container reports a bad flag as the command does anywhere."""
    result = run(image, "--provider", "mock", "--os", "Linux")
    assert result.returncode == 1
    assert result.stderr == (
        'vk-trio: --os: operating system "Linux" is not supported (use linux or windows)\n'
    )
