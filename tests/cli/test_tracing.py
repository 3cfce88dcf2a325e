"""``--trace-exporter``: off costs nothing (OpenTelemetry is never imported), a missing SDK is
one clear line, and the SDK honours the ``OTEL_*`` variables and the Go sample-rate words."""

import json
import subprocess
import sys
import textwrap

import pytest

from vk_trio import tracing
from vk_trio.cli import parse_command_line, settings_from
from vk_trio.cli._tracing import start_tracing

from .conftest import Files

# A child interpreter: this one has imported OpenTelemetry in other tests.
_OFF = textwrap.dedent(
    """
    import json, sys
    import vk_trio.api, vk_trio.cli, vk_trio.informers, vk_trio.node
    from vk_trio import tracing
    from vk_trio.cli import parse_command_line, settings_from
    from vk_trio.cli._tracing import start_tracing
    from vk_trio.node._provider_calls import ProviderCalls
    from vk_trio_mock import MockProvider

    argv, env = json.loads(sys.argv[1])
    stop = start_tracing(settings_from(parse_command_line(argv), env))
    calls = ProviderCalls(MockProvider(node_name="n"))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
    print(json.dumps({
        "enabled": tracing.enabled(),
        "loaded": loaded,
        "shared_noop": tracing.span("a") is tracing.span("b", {"k": "v"}),
        "plain_calls": calls._call.__name__,
    }))
    stop()
    """
)


def test_tracing_off_imports_nothing_and_builds_plain_paths(files: Files) -> None:
    spec = json.dumps([[*files.argv(), "--trace-exporter", "none"], files.env()])
    out = subprocess.run(
        [sys.executable, "-c", _OFF, spec], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == {
        "enabled": False,
        "loaded": [],
        "shared_noop": True,
        "plain_calls": "_call",
    }


_NO_SDK = textwrap.dedent(
    """
    import json, sys
    from importlib.abc import MetaPathFinder

    class NoSdk(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.startswith("opentelemetry.sdk"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoSdk())
    from vk_trio.cli import main
    argv, env = json.loads(sys.argv[1])
    sys.exit(main(argv, env))
    """
)


def test_otlp_without_the_sdk_is_one_line(files: Files) -> None:
    spec = json.dumps([[*files.argv(), "--trace-exporter", "otlp"], files.env()])
    done = subprocess.run(
        [sys.executable, "-c", _NO_SDK, spec], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr == (
        "vk-trio: --trace-exporter: the OTLP trace exporter needs the OpenTelemetry SDK "
        "(opentelemetry.sdk is missing): install vk-trio[otlp]\n"
    )


@pytest.mark.parametrize(
    ("env", "flag", "service"),
    [
        ({}, None, "virtual-kubelet"),
        ({"OTEL_SERVICE_NAME": "from-env"}, None, "from-env"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr,team=a"}, None, "attr"),
        ({"OTEL_SERVICE_NAME": "from-env"}, "from-flag", "from-flag"),
    ],
)
def test_otlp_resource_and_sampler(
    files: Files,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    flag: str | None,
    service: str,
) -> None:
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = [*files.argv(), "--trace-exporter", "otlp", "--trace-tag", "zone=z1"]
    if flag:
        argv += ["--trace-service-name", flag]
    stop = start_tracing(settings_from(parse_command_line(argv), files.env()))
    try:
        assert tracing.enabled()
        provider = tracing._api._provider
        assert provider is not None
        attributes = provider.resource.attributes  # type: ignore[attr-defined]
        assert attributes["service.name"] == service
        assert attributes["zone"] == "z1"
        assert attributes["nodeName"] == "vk-test"
        assert attributes["provider"] == "mock"
        # no --trace-sample-rate and no OTEL_TRACES_SAMPLER: the Go command's 1 in 10,000
        description = provider.sampler.get_description()  # type: ignore[attr-defined]
        assert "TraceIdRatioBased{0.0001}" in description
    finally:
        stop()
    assert not tracing.enabled()
