"""Property tests for every parser that reads network bytes (issue 13, fuzzing).

The targets are ``bench.fuzz.targets`` - the same ones ``python -m bench fuzz`` runs a million
times and more - and here each gets a few hundred Hypothesis examples plus a replay of its whole
corpus under ``tests/fuzz/corpus/<target>/`` (seeds, and every input a fuzz run ever found:
``front_door/regression-*`` is a WebSocket handshake that crashed hypercorn's handler).
The property: the parser accepts the input or rejects it with its own documented error; it never
raises anything else and never hangs (async targets run on a MockClock with a virtual bound).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz._mutate import mutations
from bench.fuzz.seeds import SEEDS, load_corpus
from bench.fuzz.targets import TARGETS

#: Examples per target: a few hundred for the cheap ones, fewer for the costly ones.
EXAMPLES = {name: max(20, min(400, int(400 / target.cost))) for name, target in TARGETS.items()}


def _inputs(name: str) -> st.SearchStrategy[bytes]:
    corpus = load_corpus(name)
    mutated = st.integers(min_value=0, max_value=2**32).map(
        lambda seed: next(iter(mutations(corpus, 1, seed)))
    )
    return st.one_of(st.binary(max_size=512), mutated)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_corpus_replays_cleanly(name: str) -> None:
    corpus = load_corpus(name)
    assert len(corpus) >= len(SEEDS[name]())
    TARGETS[name].run(corpus)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_generated_inputs_never_crash_or_hang(name: str) -> None:
    target = TARGETS[name]

    @settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(_inputs(name))
    def check(data: bytes) -> None:
        target.run([data])

    check()


def test_the_corpus_on_disk_matches_the_seed_generator() -> None:
    for name, make in SEEDS.items():
        on_disk = load_corpus(name)
        for seed in make():
            assert seed in on_disk, f"{name}: run `python -m bench.fuzz.seeds`"


def test_every_target_has_a_corpus() -> None:
    assert set(SEEDS) == set(TARGETS)
