"""The ``vk-trio`` command end to end: subcommands, exit statuses, one-line errors.

A few cases run the installed console script as a real subprocess; the rest call ``main`` with
an explicit argv and environment.
"""

import os
import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

import vk_trio.provider._registry as registry
from vk_trio import __version__
from vk_trio.cli import main

from .conftest import Files

VK_TRIO = Path(sys.executable).parent / "vk-trio"

pytestmark = pytest.mark.usefixtures("restore_logging")


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [str(VK_TRIO), *argv],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_providers_lists_the_mock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"], {}) == 0
    assert "mock" in capsys.readouterr().out.splitlines()


def test_providers_with_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "mock"], {}) == 0
    assert capsys.readouterr().out == "mock\n"
    assert main(["providers", "nope"], {}) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "no such provider nope\n")


def test_too_many_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "a", "b"], {}) == 2
    err = capsys.readouterr().err
    assert err == "vk-trio: command line: unrecognized arguments: b\n"


def test_unknown_flag_and_command_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--klog.v", "4"], {}) == 2
    assert capsys.readouterr().err == "vk-trio: command line: unknown flag: --klog.v\n"
    assert main(["-x"], {}) == 2
    assert capsys.readouterr().err == "vk-trio: command line: unknown flag: -x\n"
    assert main(["start"], {}) == 2
    assert capsys.readouterr().err == (
        'vk-trio: command line: unknown command "start" (commands: version, providers)\n'
    )
    assert main(["--nodename"], {}) == 2
    assert capsys.readouterr().err == "vk-trio: command line: flag needs an argument: --nodename\n"
    assert main(["version", "--nodename", "x"], {}) == 2
    assert capsys.readouterr().err == "vk-trio: command line: unknown flag: --nodename\n"


def test_boolean_flags_never_take_the_next_word(capsys: pytest.CaptureFixture[str]) -> None:
    # As with Go's flag library: "--disable-taint providers" is the flag, then the command.
    assert main(["--disable-taint", "providers", "mock"], {}) == 0
    assert capsys.readouterr().out == "mock\n"


def test_help_lists_flags_and_variables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], {}) == 0
    out = capsys.readouterr().out
    for flag in ("--provider", "--pod-sync-workers", "--metrics-addr", "--log-format"):
        assert flag in out
    assert "VKUBELET_TAINT_EFFECT" in out
    for flag in ("--trace-exporter", "--trace-sample-rate", "--trace-service-name"):
        assert flag in out


def test_misconfiguration_exits_1_with_one_line(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*files.argv(), "--pod-sync-workers", "0"], files.env()) == 1
    assert capsys.readouterr().err == (
        "vk-trio: --pod-sync-workers: pod sync workers must be greater than 0 (got 0)\n"
    )


def test_mock_config_without_the_node(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*files.argv(), "--nodename", "not-in-the-file"]
    assert main(argv, files.env()) == 1
    assert capsys.readouterr().err == (
        f'vk-trio: provider "mock": --provider-config {files.mock_config}: '
        "invalid CPU value \"\" (the file has no entry for node 'not-in-the-file')\n"
    )


def test_valid_settings_reach_run_node(
    files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Valid flags get as far as loading the kubeconfig; a broken one is one line in the form
    of every other start-up error, with the YAML line and column, whatever the log format."""
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nclusters: [this is not a kubeconfig\n")
    argv = [*files.argv(), "--log-format", "json", "--kubeconfig", str(broken)]
    assert main(argv, files.env()) == 1
    assert capsys.readouterr().err == (
        f"vk-trio: kubeconfig {broken}: not valid YAML: line 3, column 1: expected ',' or ']',"
        " but got '<stream end>' (while parsing a flow sequence started at line 2, column 11)\n"
    )


# -- the installed console script --------------------------------------------------------------


def test_script_version() -> None:
    result = run(["version"], {})
    assert (result.returncode, result.stdout, result.stderr) == (0, f"vk-trio {__version__}\n", "")


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--os", "Linux"], {}, '--os: operating system "Linux" is not supported'),
        (["--provider", "nope"], {}, '--provider: provider "nope" not found (available: '),
        ([], {"KUBELET_PORT": "abc"}, 'KUBELET_PORT: "abc" is not a port number'),
        ([], {"VKUBELET_TAINT_EFFECT": "Bogus"}, 'VKUBELET_TAINT_EFFECT: taint effect "Bogus"'),
        ([], {"APISERVER_KEY_LOCATION": ""}, "APISERVER_KEY_LOCATION: not set"),
    ],
)
def test_script_misconfigurations(
    files: Files, argv: list[str], env: dict[str, str], expected: str
) -> None:
    result = run([*files.argv(), *argv], {**files.env(), **env})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"vk-trio: {expected}")


def test_script_missing_certificate_variables(files: Files) -> None:
    result = run(files.argv(), {})
    assert result.returncode == 1
    assert result.stderr == (
        "vk-trio: APISERVER_CERT_LOCATION: not set: the kubelet API needs a serving "
        "certificate file\n"
    )


def test_script_without_any_kubeconfig_is_one_line(files: Files, tmp_path: Path) -> None:
    """No kubeconfig anywhere (and not in a pod): one line naming the ways to give one."""
    env = {**files.env(), "HOME": str(tmp_path)}
    result = run(files.argv(), env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "vk-trio: kubeconfig: no Kubernetes client configuration found: pass a kubeconfig path"
    )
    assert result.stderr.count("\n") == 1


def test_a_misshapen_provider_is_refused_in_one_line_naming_the_method(
    files: Files, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    misshapen = EntryPoint(
        name="misshapen",
        value="tests.cli.test_provider:returns_sync_lifecycle",
        group=registry.ENTRY_POINT_GROUP,
    )
    installed = list(entry_points(group=registry.ENTRY_POINT_GROUP))
    monkeypatch.setattr(registry, "entry_points", lambda group: [*installed, misshapen])
    assert main([*files.argv(), "--provider", "misshapen"], files.env()) == 1
    assert capsys.readouterr().err == (
        'vk-trio: provider "misshapen": SyncLifecycle.create_pod must be a coroutine function '
        "(async def)\n"
    )
