"""The bound for tests that wait on real work: processes, sockets, threads, the control plane.

CI runs on a loaded 2-core machine shared with other jobs, where work that takes a second when
quiet can take many: a bound here is only a guard against a hang, never a timing requirement
(those belong in bench/). Tests wait on a condition and give it :data:`WAIT`. Waits in virtual
time (trio's MockClock) are not concerned.
"""

from typing import Final

WAIT: Final = 120.0
"""Seconds a condition on real work may take before the test fails."""
