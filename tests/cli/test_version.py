"""The ``vk-trio version`` subcommand."""

import pytest

from vk_trio import __version__
from vk_trio.cli import main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"vk-trio {__version__}"
