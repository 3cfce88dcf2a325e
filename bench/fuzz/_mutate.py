"""A small mutation engine: inputs derived from a target's corpus by random edits.

Each input is a seed with one to four edits - flip bits, overwrite with interesting bytes
(0x00, 0x7f, 0x80, 0xff, ``\\r\\n``, a large length), insert or delete a run, duplicate a run,
splice in part of another seed, truncate - or, one time in sixteen, plain random bytes.  The
generator is seeded, so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

__all__ = ["mutations"]

_INTERESTING = (
    b"\x00",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\r\n",
    b"\n",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"9999999999",
    b"-1",
    b'"',
    b"{",
    b"%",
)


def _edit(rng: random.Random, data: bytearray, corpus: Sequence[bytes]) -> None:
    choice = rng.randrange(8)
    size = len(data)
    if choice == 0 and size:
        pos = rng.randrange(size)
        data[pos] ^= 1 << rng.randrange(8)
    elif choice == 1 and size:
        pos = rng.randrange(size)
        token = rng.choice(_INTERESTING)
        data[pos : pos + len(token)] = token
    elif choice == 2:
        pos = rng.randrange(size + 1)
        data[pos:pos] = rng.randbytes(rng.randrange(1, 17))
    elif choice == 3 and size:
        pos = rng.randrange(size)
        del data[pos : pos + rng.randrange(1, 33)]
    elif choice == 4 and size:
        pos = rng.randrange(size)
        run = data[pos : pos + rng.randrange(1, 65)]
        data[pos:pos] = run * rng.randrange(1, 5)
    elif choice == 5:
        other = rng.choice(corpus)
        if other:
            start = rng.randrange(len(other))
            piece = other[start : start + rng.randrange(1, 129)]
            pos = rng.randrange(size + 1)
            data[pos:pos] = piece
    elif choice == 6 and size:
        del data[rng.randrange(size) :]
    else:
        pos = rng.randrange(size + 1)
        data[pos:pos] = rng.choice(_INTERESTING)


def mutations(corpus: Sequence[bytes], count: int, seed: int) -> Iterator[bytes]:
    """``count`` inputs derived from ``corpus`` (reproducible for one ``seed``)."""
    rng = random.Random(seed)
    for _ in range(count):
        if rng.randrange(16) == 0 or not corpus:
            yield rng.randbytes(rng.randrange(0, 256))
            continue
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randrange(1, 5)):
            _edit(rng, data, corpus)
        yield bytes(data[:65536])
