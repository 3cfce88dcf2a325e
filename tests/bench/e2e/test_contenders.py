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


def _pairs(flags: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(flags[::2], flags[1::2], strict=True))


def test_go_vk_tuned_takes_vk_trio_tuned_settings() -> None:
    flags = _pairs(_contenders.GO_VK_TUNED_FLAGS)
    tuned = _pairs(_contenders.VK_TRIO_TUNED_FLAGS)
    assert flags["-qps"] == tuned["--kube-api-qps"]
    assert flags["-burst"] == tuned["--kube-api-burst"]
    workers = max(int(tuned["--pod-sync-workers"]), int(tuned["--status-workers"]))
    assert flags["-workers"] == str(workers)
    # events keep vk-trio's own budget (the tuned row does not change it)
    assert (flags["-event-qps"], flags["-event-burst"]) == ("50", "100")
    contender = _contenders.CONTENDERS["go-vk-tuned"]
    assert contender.extra_args == _contenders.GO_VK_TUNED_FLAGS


def test_the_full_plan_runs_every_contender_but_the_opt_in_ones_in_each_burst() -> None:
    from bench.e2e import _run  # noqa: PLC0415

    bursts = [s for s in _run.full_plan() if s.group == "burst"]
    assert bursts
    for step in bursts:
        opt_in = {"vk-trio-baseline", "vk-trio-traced"}
        assert set(step.contenders) == set(_contenders.CONTENDERS) - opt_in


def test_traced_contender_exports_every_trace_to_the_local_sink() -> None:
    import httpx  # noqa: PLC0415

    from bench.e2e import _otlp_sink  # noqa: PLC0415

    contender = _contenders.CONTENDERS["vk-trio-traced"]
    assert contender.kind == "vk-trio"
    assert _pairs(contender.extra_args) == {
        "--trace-exporter": "otlp",
        "--trace-sample-rate": "always",
    }
    before = _otlp_sink.sink_statistics()
    url = _otlp_sink.sink_url()
    assert _otlp_sink.sink_url() == url  # one sink per process
    answer = httpx.post(f"{url}/v1/traces", content=b"\x0a\x00", timeout=60)
    assert answer.status_code == 200
    after = _otlp_sink.sink_statistics()
    assert after["requests"] == before["requests"] + 1
    assert after["bytes"] == before["bytes"] + 2
