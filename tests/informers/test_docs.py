"""The controller example of docs/informers.md, run as written against the in-memory fake."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import trio
import trio.testing

from .fakes import FakeApiServer, make_object

DOC = Path(__file__).resolve().parents[2] / "docs" / "informers.md"


def load_example() -> types.ModuleType:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (source,) = [b for b in blocks if "async def run_controller" in b]
    module = types.ModuleType("configmap_keys_example")
    exec(compile(source, str(DOC), "exec"), module.__dict__)
    return module


def configmap(name: str, **data: str) -> dict[str, Any]:
    obj = make_object(name, "demo")
    obj["kind"] = "ConfigMap"
    obj["data"] = data
    del obj["spec"]
    return obj


def annotation(fake: FakeApiServer, key: str) -> str | None:
    annotations = fake.objects[key]["metadata"].get("annotations") or {}
    value = annotations.get("example.com/data-keys")
    return None if value is None else str(value)


async def test_the_documented_controller_converges(
    autojump_clock: trio.testing.MockClock,
) -> None:
    example = load_example()
    fake = FakeApiServer()
    fake.create(configmap("one", a="1"))
    fake.create(configmap("other-ns", a="1") | {"metadata": {"name": "x", "namespace": "else"}})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(example.run_controller, fake, "demo")
        await trio.sleep(1)
        assert annotation(fake, "demo/one") == "1"
        fake.create(configmap("two", a="1", b="2"))
        fake.modify("demo/one", lambda o: o["data"].update(z="3"))
        await trio.sleep(1)
        assert (annotation(fake, "demo/one"), annotation(fake, "demo/two")) == ("2", "2")
        assert annotation(fake, "else/x") is None  # another namespace: not ours
        patches = len([c for c in fake.calls if c.verb == "patch"])
        fake.delete("demo/two")
        await trio.sleep(5)
        assert len([c for c in fake.calls if c.verb == "patch"]) == patches  # nothing to do
        nursery.cancel_scope.cancel()
    assert patches == 3
