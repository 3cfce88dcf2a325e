"""The one error the command reports for any start-up misconfiguration."""

from __future__ import annotations

from typing import final

__all__ = ["SettingsError"]


@final
class SettingsError(Exception):
    """A misconfiguration found before start-up: ``source`` is the flag or variable to fix.

    ``str(err)`` is the single line the command prints, ``"<source>: <problem>"``.
    """

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = " ".join(problem.split())  # one line, whatever the cause said
        super().__init__(f"{source}: {self.problem}")
