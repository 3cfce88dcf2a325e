"""The mock provider (``--provider mock``): the Go Virtual Kubelet mock, on the vk-trio interface.

Pods are held in memory and reported ``Running`` the moment they are created; deleting them
reports them ``Succeeded``.  Useful for demos, end-to-end tests and benchmarks, for which it has
optional knobs (per-call latency and spikes, failure injection, hung calls, a ledger of
successful calls).  For the kubelet API it has container logs, a few built-in exec commands and
an echo server behind port-forward.  See
:mod:`vk_trio_mock._config` and ``docs/provider.md``.
"""

from ._config import DEFAULT_CPU as DEFAULT_CPU
from ._config import DEFAULT_MEMORY as DEFAULT_MEMORY
from ._config import DEFAULT_PODS as DEFAULT_PODS
from ._config import FailurePlan as FailurePlan
from ._config import LatencySpikes as LatencySpikes
from ._config import MockConfig as MockConfig
from ._config import MockKnobs as MockKnobs
from ._config import MockLogs as MockLogs
from ._config import load_mock_config as load_mock_config
from ._config import parse_mock_config as parse_mock_config
from ._factory import create_provider as create_provider
from ._provider import MockInjectedError as MockInjectedError
from ._provider import MockProvider as MockProvider
from ._provider import MockStatistics as MockStatistics
