"""The ``vk-trio-baseline`` contender: another installation's vk-trio, checked before any trial."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench.e2e import _contenders


def test_baseline_without_its_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_contenders.BASELINE_ENV, raising=False)
    with pytest.raises(_contenders.ContenderError, match=r"needs \$VK_TRIO_BASELINE"):
        _contenders.prepare(_contenders.CONTENDERS["vk-trio-baseline"])


def test_baseline_that_is_not_executable_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "vk-trio"
    path.write_text("")
    monkeypatch.setenv(_contenders.BASELINE_ENV, str(path))
    with pytest.raises(_contenders.ContenderError, match="is not an executable file"):
        _contenders.prepare(_contenders.CONTENDERS["vk-trio-baseline"])


def test_baseline_reports_its_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "venv" / "bin" / "vk-trio"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\necho 'vk-trio 0.0.1'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(_contenders.BASELINE_ENV, str(path))
    prepared = _contenders.prepare(_contenders.CONTENDERS["vk-trio-baseline"])
    assert prepared["binary"] == str(path)
    # tmp_path is no git checkout: the version is the executable's own line
    assert prepared["version"] == "vk-trio 0.0.1"
    assert os.access(prepared["binary"], os.X_OK)
