"""``vk-trio --trace-exporter otlp`` as a real process: its spans reach a local OTLP/HTTP
receiver (a stdlib HTTP server in the test that decodes the protobuf payloads)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests._controlplane import ApiError, ControlPlane
from tests._waits import WAIT

from .test_cli_run import VK_TRIO, _free_port, _node_ready, _wait

pytestmark = pytest.mark.controlplane


class Received:
    """What the receiver decoded: one dict per span, with its resource's attributes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []

    def names(self) -> set[str]:
        with self.lock:
            return {span["name"] for span in self.spans}

    def named(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [span for span in self.spans if span["name"] == name]


def _value(any_value: Any) -> Any:
    return (
        getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None
    )


def _decode(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": {a.key: _value(a.value) for a in span.attributes},
                        "resource": resource,
                    }
                )
    return spans


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            spans = _decode(body)
            with received.lock:
                received.paths.append(self.path)
                received.headers.append({k.lower(): v for k, v in self.headers.items()})
                received.spans.extend(spans)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_spans_of_a_real_process_reach_an_otlp_receiver(
    controlplane: ControlPlane,
    namespace: str,
    tmp_path: Path,
    receiver: tuple[str, Received],
) -> None:
    endpoint, received = receiver
    node = f"vk-otel-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({node: {"cpu": "8", "memory": "16Gi", "pods": "50"}}))
    env = {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "VKUBELET_POD_IP": "127.0.0.1",
        "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
        "APISERVER_CA_CERT_LOCATION": str(controlplane.ca_cert),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=team-a",
        "OTEL_SERVICE_NAME": "vk-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds between batches
    }
    proc = subprocess.Popen(
        [
            VK_TRIO,
            "--provider",
            "mock",
            "--provider-config",
            str(config),
            "--nodename",
            node,
            "--kubeconfig",
            str(controlplane.kubeconfig),
            "--metrics-addr",
            f"127.0.0.1:{_free_port()}",
            "--trace-exporter",
            "otlp",
            "--trace-sample-rate",
            "always",
            "--trace-tag",
            "team=nodes",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with controlplane.admin_client() as api:
            _wait("the node to be Ready", lambda: _node_ready(api, node))
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web"},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]},
            }
            uid = api.create(f"/api/v1/namespaces/{namespace}/pods", pod)["metadata"]["uid"]
            path = f"/api/v1/namespaces/{namespace}/pods/web"
            _wait("the pod to run", lambda: api.get(path)["status"].get("phase") == "Running")
            # a kubelet API request, authorised with a SubjectAccessReview
            controlplane.kubectl("logs", "-n", namespace, "web", "--tail", "1")
            wanted = {
                "node.status_update",
                "node.lease_renew",
                "pod.event",
                "pod.sync",
                "provider.create_pod",
                "pod.status_write",
                "kubelet_api.request",
                "kubelet_api.subject_access_review",
            }
            _wait("the spans to arrive", lambda: wanted <= received.names(), timeout=WAIT)
        proc.send_signal(15)
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        with controlplane.admin_client() as api, contextlib.suppress(ApiError):
            api.delete(f"/api/v1/nodes/{node}")

    assert set(received.paths) == {"/v1/traces"}
    assert all(h.get("x-tenant") == "team-a" for h in received.headers)
    assert all(h.get("content-type") == "application/x-protobuf" for h in received.headers)
    [create] = received.named("provider.create_pod")
    assert create["attributes"]["k8s.pod.uid"] == uid
    assert create["attributes"]["k8s.namespace.name"] == namespace
    assert create["resource"]["service.name"] == "vk-under-test"
    assert create["resource"]["deployment.environment"] == "e2e"
    assert create["resource"]["team"] == "nodes"
    assert create["resource"]["nodeName"] == node
    syncs = {s["span_id"]: s for s in received.named("pod.sync")}
    assert create["parent_span_id"] in syncs  # the tree survived the trip
    [request] = [
        r
        for r in received.named("kubelet_api.request")
        if "/containerLogs/" in r["attributes"]["url.path"]
    ]
    assert request["attributes"]["http.response.status_code"] == 200
    reviews = received.named("kubelet_api.subject_access_review")
    assert any(r["parent_span_id"] == request["span_id"] for r in reviews)
