"""The process provider (``--provider process``): pods as supervised local processes.

Each container of a pod is a process on this machine, started from its ``command``/``args``
(the ``image`` is not pulled), with the kubelet's restart policy and back-off, probes, hooks,
volumes, logs, exec/attach/port-forward and resource statistics; with ``isolation: namespaces``
each pod gets its own mount, PID, UTS and IPC namespaces.  See ``docs/providers/process.md``.
"""

from ._backoff import CrashBackoff as CrashBackoff
from ._config import DEFAULT_STATE_DIR as DEFAULT_STATE_DIR
from ._config import ProcessConfig as ProcessConfig
from ._config import load_process_config as load_process_config
from ._config import parse_process_config as parse_process_config
from ._factory import create_provider as create_provider
from ._provider import ProcessProvider as ProcessProvider
