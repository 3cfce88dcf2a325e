"""What the kubelet API reveals about pods and which pods a request may reach (issue 13,
finding 9): ``/runningpods/`` shows names and images only, logs/exec/attach/port-forward need a
pod bound to this node (404 otherwise, before the provider hears of it) and Kubernetes names."""

from __future__ import annotations

import orjson
import pytest

from vk_trio.provider import Pod
from vk_trio_mock import MockProvider

from ._support import NODE, asgi_http, make_app, pod

SECRET = "hunter2-from-a-secret"


def _pod_with_secret_env(name: str = "p") -> Pod:
    body = pod(name)
    body["spec"] = {
        "nodeName": NODE,
        "containers": [
            {
                "name": "app",
                "image": "registry.example/app:1",
                "env": [{"name": "PASSWORD", "value": SECRET}],
                "args": ["--password", SECRET],
            }
        ],
    }
    return body


async def test_runningpods_lists_names_and_images_only() -> None:
    mock = MockProvider(node_name=NODE)
    await mock.create_pod(_pod_with_secret_env())
    response = await asgi_http(make_app(mock), "GET", b"/runningpods/")
    assert response.status == 200
    assert SECRET.encode() not in response.body
    (item,) = orjson.loads(response.body)["items"]
    assert item["metadata"] == {"name": "p", "namespace": "ns", "uid": "uid-p"}
    assert item["spec"] == {"containers": [{"name": "app", "image": "registry.example/app:1"}]}


@pytest.mark.parametrize(
    "path",
    [
        b"/containerLogs/ns/other/app",
        b"/exec/ns/other/app",
        b"/attach/ns/other/app",
        b"/portForward/ns/other",
    ],
)
async def test_a_pod_not_bound_to_this_node_is_404(path: bytes) -> None:
    mock = MockProvider(node_name=NODE)
    # The provider knows the pod (say, from before a reschedule), the node's pods do not.
    await mock.create_pod(pod("other"))
    app = make_app(mock, pods=lambda: [pod("p")])
    response = await asgi_http(app, "GET", path, query=b"command=ls&output=1")
    assert (response.status, response.body) == (404, b"pod does not exist\n")
    # The same request for a bound pod goes on to the provider's checks.
    bound = await asgi_http(
        make_app(mock, pods=lambda: [pod("other")]), "GET", path, query=b"command=ls&output=1"
    )
    assert bound.status != 404


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (b"/containerLogs/Upper/p/app", "namespace"),
        (b"/containerLogs/ns/p_q/app", "pod"),
        (b"/containerLogs/ns/p/" + b"c" * 64, "container"),
        (b"/exec/ns/-p/app", "pod"),
        (b"/exec/ns/p/app%20x", "container"),
        (b"/attach/n%24s/p/app", "namespace"),
        (b"/portForward/ns/" + b"a" * 254, "pod"),
    ],
)
async def test_names_must_be_kubernetes_names(path: bytes, field: str) -> None:
    app = make_app(MockProvider(node_name=NODE))
    response = await asgi_http(app, "GET", path, query=b"command=ls&output=1")
    assert response.status == 400
    assert response.body.startswith(f"invalid {field} name ".encode())


async def test_long_dotted_pod_names_are_valid() -> None:
    name = ".".join(["a" * 63] * 3)  # 191 characters of DNS-1123 subdomain
    mock = MockProvider(node_name=NODE)
    await mock.create_pod(pod(name))
    response = await asgi_http(
        make_app(mock, pods=lambda: [pod(name)]), "GET", f"/containerLogs/ns/{name}/app".encode()
    )
    assert response.status == 200
