"""libFuzzer entry point for one target: ``python -m bench.fuzz._atheris TARGET [libFuzzer
flags] [corpus dir]`` (run by ``python -m bench.fuzz --engine atheris``)."""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

from bench.fuzz.targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    # ``python -m bench.fuzz._atheris`` has imported the package (and vk_trio) already, so
    # instrument everything loaded rather than only later imports.
    atheris.instrument_all()

    def one(data: bytes) -> None:
        target.run([data])

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
