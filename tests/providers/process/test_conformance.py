"""The process provider passes the provider conformance kit (real processes)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from vk_trio.provider import format_time
from vk_trio.provider.testing import ProviderConformance
from vk_trio.provider.types import Pod
from vk_trio_process import ProcessProvider, parse_process_config

from ._support import Lookup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: The main process of the kit's pods: echoes stdin to stdout and answers HTTP on the port
#: (only the first pod gets it: pods share the host network, and the kit runs one at a time
#: where it forwards).
MAIN = """
import http.server, sys, threading
try:
    handler = http.server.SimpleHTTPRequestHandler
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
except OSError:
    pass
print("started", flush=True)
for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
threading.Event().wait()
"""


class TestProcessProvider(ProviderConformance):
    provider_class = ProcessProvider
    forward_port: ClassVar[int] = _free_port()
    logs_contain: ClassVar[bytes | None] = b"started"
    concurrency: ClassVar[int] = 8

    async def make_provider(self) -> ProcessProvider:
        state = Path(tempfile.mkdtemp(prefix="vk-process-conformance-"))
        config = parse_process_config({"stateDir": str(state), "isolation": "none"})
        return ProcessProvider(node_name="vk-conformance", config=config, resources=Lookup())

    async def close_provider(self, provider: ProcessProvider) -> None:
        """The kit cancels ``run``, which leaves pods running (for re-adoption): end them."""
        provider.kill_all_pods()
        shutil.rmtree(provider.config.state_dir, ignore_errors=True)

    def make_pod(self, namespace: str, name: str) -> Pod:
        command = ["python3", "-c", MAIN, str(self.forward_port)]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "namespace": namespace,
                "name": name,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": format_time(datetime.now(UTC)),
            },
            "spec": {
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {
                        "name": "main",
                        "image": "host",
                        "command": command,
                        "stdin": True,
                        # port-forward retries a refused connection until the pod is ready
                        "readinessProbe": {
                            "tcpSocket": {"port": self.forward_port},
                            "periodSeconds": 1,
                        },
                    }
                ],
            },
        }
