"""resource_path spelling."""

from __future__ import annotations

import pytest

from vk_trio.kube import resource_path


def test_core_group() -> None:
    assert resource_path("v1", "pods") == "/api/v1/pods"
    assert resource_path("v1", "pods", namespace="ns") == "/api/v1/namespaces/ns/pods"
    assert resource_path("v1", "pods", namespace="ns", name="p") == "/api/v1/namespaces/ns/pods/p"
    assert (
        resource_path("v1", "pods", namespace="ns", name="p", subresource="status")
        == "/api/v1/namespaces/ns/pods/p/status"
    )
    assert resource_path("v1", "nodes", name="n1") == "/api/v1/nodes/n1"


def test_named_groups() -> None:
    assert (
        resource_path("coordination.k8s.io/v1", "leases", namespace="kube-node-lease", name="n")
        == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n"
    )
    assert resource_path("apps/v1", "deployments") == "/apis/apps/v1/deployments"


def test_names_are_quoted() -> None:
    assert resource_path("v1", "pods", namespace="ns", name="a/b?c") == (
        "/api/v1/namespaces/ns/pods/a%2Fb%3Fc"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_version": "", "plural": "pods"},
        {"api_version": "a/b/c", "plural": "pods"},
        {"api_version": "v1", "plural": ""},
        {"api_version": "v1", "plural": "pods", "name": ".."},
        {"api_version": "v1", "plural": "pods", "subresource": "status"},
        {"api_version": "v1", "plural": "pods", "namespace": ""},
    ],
)
def test_rejects_bad_input(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        resource_path(**kwargs)
