"""vk_trio.provider.types: the pod's JSON shapes as TypedDicts.

Checked against the Kubernetes client's models (generated from the API server's OpenAPI
document): every key we declare is a real field of that kind with a matching value type, so the
types cannot themselves carry a misspelling, and every field the client knows is declared.  And
they cost nothing: a typed pod is the orjson dict itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import kubernetes.client
import orjson
import pytest

from vk_trio.provider import types as k8s

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(name for name in vars(k8s) if not name.startswith("_"))


def _model(name: str) -> Any:
    return getattr(kubernetes.client, f"V1{name}", None) or getattr(
        kubernetes.client, f"CoreV1{name}"
    )


_SCALARS = {"str": str, "int": int, "bool": bool, "float": float, "datetime": str}


def _matches(ours: Any, theirs: str) -> bool:
    """Whether our annotation fits the client's type name (``List[V1Container]``, ...)."""
    origin, args = typing.get_origin(ours), typing.get_args(ours)
    if theirs in _SCALARS:
        return ours is _SCALARS[theirs]
    if theirs == "object":  # IntOrString
        return bool(ours == (int | str))
    if theirs.startswith("List["):
        return origin is list and _matches(args[0], theirs[5:-1])
    if theirs.startswith("Dict[str, "):
        return origin is dict and args[0] is str and _matches(args[1], theirs[10:-1])
    if origin is dict:  # a nested kind we keep as plain JSON on purpose
        return args == (str, Any)
    model = theirs.removeprefix("V1").removeprefix("CoreV1")
    return getattr(ours, "__name__", None) == model


@pytest.mark.parametrize("name", NAMES)
def test_every_key_is_a_field_of_the_kind_with_its_type(name: str) -> None:
    typed = getattr(k8s, name)
    model = _model(name)
    fields = {json: model.openapi_types[attr] for attr, json in model.attribute_map.items()}
    hints = typing.get_type_hints(typed)
    assert set(hints) == set(fields), (
        f"{name}: not in Kubernetes {sorted(set(hints) - set(fields))}, "
        f"not typed {sorted(set(fields) - set(hints))}"
    )
    wrong = {
        key: (hints[key], kind) for key, kind in fields.items() if not _matches(hints[key], kind)
    }
    assert not wrong, f"{name}: {wrong}"


def test_typed_pods_are_plain_dicts() -> None:
    raw = orjson.dumps(
        {
            "metadata": {"name": "p", "namespace": "ns", "futureField": 1},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
    )
    pod: k8s.Pod = orjson.loads(raw)
    assert type(pod) is dict and type(pod["spec"]["containers"][0]) is dict
    assert orjson.dumps(pod) == raw  # unknown fields pass through untouched


def test_mypy_catches_a_misspelt_key(tmp_path: Path) -> None:
    source = tmp_path / "misspelt.py"
    source.write_text(
        "from vk_trio.provider import Pod, types as k8s\n"
        'pod: Pod = {"spec": {"contaners": []}}\n'
        'status: k8s.PodStatus = {"phase": "Running", "podIp": "10.0.0.1"}\n'
        "def image(pod: Pod) -> str:\n"
        '    return pod["spec"]["containers"][0]["imag"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, str(source)],
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for key in ('"contaners"', '"podIp"', '"imag"'):
        assert key in result.stdout, result.stdout
