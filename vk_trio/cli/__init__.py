"""The ``vk-trio`` command line (process wiring, signals)."""

from ._main import main as main
