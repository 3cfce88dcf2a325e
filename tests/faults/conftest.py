"""The fault-injection suite's control plane and its table of results.

The suite has a control plane of its own (its faults restart the API server and compact etcd),
and prints one table at the end of the session: fault, pods checked, pods wrong, time to converge.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests._controlplane import ControlPlane

from ._harness import RESULTS, table


@pytest.fixture(scope="session")
def faults_controlplane(controlplane_factory: Callable[..., ControlPlane]) -> ControlPlane:
    return controlplane_factory("faults")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("fault-injection suite")
        terminalreporter.write_line(table(RESULTS))
