"""The mock's configuration file: Go mock format, defaults, validation messages, knobs."""

import json
from pathlib import Path
from typing import Any

import pytest

from vk_trio.provider import InvalidInputError
from vk_trio_mock import (
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    DEFAULT_PODS,
    FailurePlan,
    LatencySpikes,
    MockConfig,
    load_mock_config,
    parse_mock_config,
)


def parse(document: Any, node: str = "vk") -> MockConfig:
    return parse_mock_config(json.dumps(document), node)


def test_upstream_example_file() -> None:
    document = {"vkubelet-mock-0": {"cpu": "2", "memory": "32Gi", "pods": "128"}}
    config = parse(document, "vkubelet-mock-0")
    assert config.capacity() == {"cpu": "2", "memory": "32Gi", "pods": "128"}
    assert config.provider_id is None


def test_missing_fields_get_the_go_defaults() -> None:
    config = parse({"vk": {}})
    assert (config.cpu, config.memory, config.pods) == (DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS)
    assert (DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS) == ("20", "100Gi", "20")
    # empty strings count as missing, as in Go
    assert parse({"vk": {"cpu": "", "pods": ""}}).cpu == "20"


def test_others_and_provider_id() -> None:
    config = parse({"vk": {"others": {"nvidia.com/gpu": "4"}, "providerID": "mock://vk"}})
    expected = {"cpu": "20", "memory": "100Gi", "pods": "20", "nvidia.com/gpu": "4"}
    assert config.capacity() == expected
    assert config.provider_id == "mock://vk"


def test_field_names_match_case_insensitively_and_unknown_fields_are_ignored() -> None:
    config = parse({"vk": {"CPU": "4", "Memory": "1Gi", "PROVIDERID": "x", "color": "blue"}})
    assert (config.cpu, config.memory, config.provider_id) == ("4", "1Gi", "x")


def test_node_without_entry_fails_on_the_empty_cpu_value() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse({"other-node": {"cpu": "2"}}, "vk")
    assert str(info.value) == "invalid CPU value \"\" (the file has no entry for node 'vk')"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"cpu": "two"}, 'invalid CPU value "two"'),
        ({"memory": "lots"}, 'invalid memory value "lots"'),
        ({"pods": "1 0"}, 'invalid pods value "1 0"'),
        ({"others": {"a": "1", "gpu": "x"}}, 'invalid other value "x" (for gpu)'),
    ],
)
def test_invalid_quantities_name_the_resource(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse({"vk": entry})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON: "),
        ("[1]", "must be a JSON object keyed by node name"),
        ('{"vk": 1}', "the entry of node 'vk' must be a JSON object"),
        ('{"vk": {"cpu": 2}}', "'cpu' of node 'vk' must be a string, not 2"),
        # like Go's json.Unmarshal, another node's entry with a wrong type fails the file too
        ('{"vk": {}, "x": {"pods": true}}', "'pods' of node 'x' must be a string, not true"),
        ('{"vk": {"others": ["a"]}}', "'others' of node 'vk' must be an object"),
        ('{"vk": {"others": {"a": 1}}}', "'others' of node 'vk' must be an object"),
    ],
)
def test_malformed_files(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_mock_config(text, "vk")
    assert str(info.value).startswith(message)


def test_load_reads_the_file_and_reports_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text('{"vk": {"cpu": "3"}}')
    assert load_mock_config(str(path), "vk").cpu == "3"
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidInputError) as info:
        load_mock_config(str(missing), "vk")
    assert str(info.value) == f"cannot read {missing}: No such file or directory"


def test_knobs_are_parsed() -> None:
    config = parse(
        {
            "vk": {
                "knobs": {
                    "latency": {"create": 0.5, "get": 1},
                    "failures": {
                        "create": {"nth": [1, 3], "fraction": 0.25, "seed": 7, "message": "quota"},
                        "delete": {"fraction": 1},
                    },
                }
            }
        }
    )
    assert dict(config.knobs.latency) == {"create": 0.5, "get": 1.0}
    assert config.knobs.failures["create"] == FailurePlan(
        nth=frozenset({1, 3}), fraction=0.25, seed=7, message="quota"
    )
    assert config.knobs.failures["delete"].fraction == 1.0
    assert parse({"vk": {}}).knobs.latency == {}


def test_fault_knobs_are_parsed() -> None:
    knobs = parse(
        {
            "vk": {
                "knobs": {
                    "spikes": {"get": {"fraction": 0.1, "seconds": 2, "seed": 3}},
                    "hangs": {"create": [10, 20]},
                    "ledger": "/tmp/ledger.jsonl",
                }
            }
        }
    ).knobs
    assert knobs.spikes["get"] == LatencySpikes(fraction=0.1, seconds=2.0, seed=3)
    assert knobs.hangs["create"] == frozenset({10, 20})
    assert knobs.ledger == "/tmp/ledger.jsonl"
    assert parse({"vk": {}}).knobs.ledger is None


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ([], "knobs must be a JSON object"),
        ({"speed": 1}, "knobs has unknown fields ['speed']"),
        ({"latency": 1}, "knobs: latency must be an object"),
        ({"latency": {"boot": 1}}, "knobs: latency.boot is not an operation"),
        ({"latency": {"create": "1s"}}, 'knobs: latency.create must be a number, not "1s"'),
        ({"latency": {"create": -1}}, "knobs: latency.create must be a number >= 0, not -1"),
        ({"latency": {"create": True}}, "knobs: latency.create must be a number, not true"),
        ({"failures": []}, "knobs: failures must be an object"),
        ({"failures": {"get": {}}}, "knobs: failures.get is not an operation"),
        ({"failures": {"create": 1}}, "knobs: failures.create must be an object"),
        ({"failures": {"create": {"every": 2}}}, "knobs: failures.create has unknown fields"),
        ({"failures": {"create": {"nth": 1}}}, "knobs: failures.create.nth must be a list"),
        ({"failures": {"create": {"nth": [0]}}}, "knobs: failures.create.nth holds call numbers"),
        ({"failures": {"create": {"fraction": 2}}}, "knobs: failures.create.fraction must be <= 1"),
        ({"failures": {"create": {"seed": 1.5}}}, "knobs: failures.create.seed must be a whole"),
        ({"failures": {"create": {"message": 1}}}, "knobs: failures.create.message must be a"),
        ({"spikes": []}, "knobs: spikes must be an object"),
        ({"spikes": {"boot": {}}}, "knobs: spikes.boot is not an operation"),
        ({"spikes": {"get": 1}}, "knobs: spikes.get must be an object"),
        ({"spikes": {"get": {"every": 1}}}, "knobs: spikes.get has unknown fields"),
        ({"spikes": {"get": {"fraction": 2}}}, "knobs: spikes.get.fraction must be <= 1"),
        ({"spikes": {"get": {"seconds": -1}}}, "knobs: spikes.get.seconds must be a number >= 0"),
        ({"hangs": []}, "knobs: hangs must be an object"),
        ({"hangs": {"boot": [1]}}, "knobs: hangs.boot is not an operation"),
        ({"hangs": {"create": [0]}}, "knobs: hangs.create must be a list of call numbers"),
        ({"ledger": 1}, "knobs: ledger must be a file path"),
    ],
)
def test_invalid_knobs(knobs: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse({"vk": {"knobs": knobs}})
    assert str(info.value).startswith(message)


def test_failure_plan_validates_fraction_when_built_directly() -> None:
    with pytest.raises(ValueError):
        FailurePlan(fraction=1.5)


def test_config_values_are_read_only() -> None:
    config = MockConfig(others={"a": "1"})
    with pytest.raises(TypeError):
        config.others["b"] = "2"  # type: ignore[index]


def test_logs_section() -> None:
    config = parse({"vk": {"logs": {"lines": 5, "interval": 0.5, "containers": {"a": ["x"]}}}})
    assert (config.logs.lines, config.logs.interval) == (5, 0.5)
    assert dict(config.logs.containers) == {"a": ("x",)}
    default = parse({"vk": {}}).logs
    assert (default.lines, default.interval, dict(default.containers)) == (3, 1.0, {})


@pytest.mark.parametrize(
    ("logs", "message"),
    [
        ([], "logs must be a JSON object"),
        ({"color": 1}, "logs has unknown fields ['color']"),
        ({"lines": -1}, "logs: lines must be a whole number >= 0, not -1"),
        ({"lines": 1.5}, "logs: lines must be a whole number >= 0, not 1.5"),
        ({"interval": 0}, "logs: interval must be a number > 0, not 0.0"),
        ({"containers": []}, "logs: containers must be an object of container name to lines"),
        ({"containers": {"a": [1]}}, "logs: containers.a must be a list of strings"),
        ({"containers": {"a": ["x\ny"]}}, "logs: containers.a lines must not contain newlines"),
    ],
)
def test_invalid_logs_sections(logs: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse({"vk": {"logs": logs}})
    assert str(info.value) == message
