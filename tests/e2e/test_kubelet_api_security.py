"""Who gets into the kubelet API: client certificates from the cluster CA (CN/O), bearer tokens
through TokenReview, RBAC on nodes/<subresource> through SubjectAccessReview - checked against
the real API server by calling our kubelet port directly."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio.api import KubeletServer, KubeletServerConfig
from vk_trio.api.spdy import open_spdy_connection
from vk_trio_mock import MockProvider

from ..api._support import read_response_head, read_to_eof, spdy_upgrade_request
from ._kubelet_api_support import KubeletNode, issue_certificate, kubelet_node

RBAC_GROUP = "rbac.authorization.k8s.io"


def context(cp: ControlPlane, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cp.ca_cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def kubelet_client(
    vk: KubeletNode, ctx: ssl.SSLContext, token: str | None = None
) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{vk.port}", verify=ctx, headers=headers, timeout=WAIT
    )


async def grant(
    vk: KubeletNode,
    name: str,
    subject: dict[str, str],
    subresources: Sequence[str] = ("proxy",),
    verbs: Sequence[str] = ("get", "create"),
) -> None:
    """A ClusterRole on nodes/<subresources> and a binding for ``subject``."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    await vk.client.create(
        f"{rbac}/clusterroles",
        {
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": [f"nodes/{s}" for s in subresources],
                    "verbs": list(verbs),
                }
            ],
        },
    )
    await vk.client.create(
        f"{rbac}/clusterrolebindings",
        {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": RBAC_GROUP,
                "kind": "ClusterRole",
                "name": name,
            },
            # ServiceAccount subjects have no API group; users and groups are RBAC's.
            "subjects": [
                {"apiGroup": "" if subject["kind"] == "ServiceAccount" else RBAC_GROUP, **subject}
            ],
        },
    )


async def cleanup_rbac(vk: KubeletNode, *names: str) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    for name in names:
        for kind in ("clusterrolebindings", "clusterroles"):
            await vk.client.delete(f"{rbac}/{kind}/{name}")


async def test_no_certificate_and_no_token_is_401(controlplane: ControlPlane) -> None:
    async with (
        kubelet_node(controlplane, "noauth") as vk,
        kubelet_client(vk, context(controlplane)) as client,
    ):
        for path in ("/pods", "/containerLogs/a/b/c", "/stats/summary", "/nope"):
            response = await client.get(path)
            assert (response.status_code, response.text) == (401, "Unauthorized\n"), path
        # /healthz is authenticated on the kubelet port, as the kubelet does (issue 13).
        assert (await client.get("/healthz")).status_code == 401
        bad_token = await client.get("/pods", headers={"Authorization": "Bearer not-a-token"})
        assert bad_token.status_code == 401


async def test_certificate_from_another_ca_is_rejected(
    controlplane: ControlPlane,
) -> None:
    stranger = trustme.CA().issue_cert("x.test", common_name="system:admin")
    ctx = context(controlplane)
    stranger.configure_cert(ctx)
    async with kubelet_node(controlplane, "otherca") as vk, kubelet_client(vk, ctx) as client:
        # TLS 1.3 clients learn of the rejection after their side of the handshake: the
        # server aborts the connection instead of answering.
        with pytest.raises(httpx.TransportError):
            await client.get("/pods")
        assert vk.server.front_door.statistics().handshake_failures == 1


async def test_rbac_on_nodes_subresources_decides(
    controlplane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    alice = issue_certificate(controlplane, tmp_path, common_name="alice", organizations=["devs"])
    bob = issue_certificate(controlplane, tmp_path, common_name="bob")
    carol = issue_certificate(controlplane, tmp_path, common_name="carol", organizations=["ops"])
    async with kubelet_node(controlplane, "rbac") as vk:
        await vk.running_pod(namespace, "web")
        names = (f"{vk.name}-bob", f"{vk.name}-ops")
        await grant(vk, names[0], {"kind": "User", "name": "bob"})
        await grant(vk, names[1], {"kind": "Group", "name": "ops"}, ["stats", "metrics"], ["get"])
        try:
            logs = f"/containerLogs/{namespace}/web/app?tailLines=1"
            async with kubelet_client(vk, context(controlplane, alice)) as client:
                response = await client.get(logs)
                assert (response.status_code, response.text) == (403, "Forbidden\n")
            async with kubelet_client(vk, context(controlplane, bob)) as client:
                response = await client.get(logs)
                assert response.status_code == 200
                assert response.text == f"mock log line 3 of {namespace}/web/app\n"
                # nodes/proxy does not cover nodes/stats: the subresource comes from the path.
                assert (await client.get("/stats/summary")).status_code == 403
            async with kubelet_client(vk, context(controlplane, carol)) as client:
                assert (await client.get("/stats/summary")).status_code == 200  # by group O=ops
                assert (await client.get("/metrics/resource")).status_code == 200
                assert (await client.get("/pods")).status_code == 403
            stats = vk.server.auth.statistics()
            assert stats.access_reviews >= 6 and stats.token_reviews == 0
        finally:
            await cleanup_rbac(vk, *names)


async def test_service_account_tokens_via_token_review(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with kubelet_node(controlplane, "token") as vk:
        tokens = {}
        for account in ("reader", "nobody"):
            base = f"/api/v1/namespaces/{namespace}/serviceaccounts"
            await vk.client.create(base, {"metadata": {"name": account}})
            issued = await vk.client.create(
                f"{base}/{account}/token",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
            )
            tokens[account] = issued["status"]["token"]
        name = f"{vk.name}-reader"
        subject = {"kind": "ServiceAccount", "name": "reader", "namespace": namespace}
        await grant(vk, name, subject)
        try:
            ctx = context(controlplane)
            async with kubelet_client(vk, ctx, tokens["reader"]) as client:
                response = await client.get("/pods")
                assert response.status_code == 200
                assert response.json()["kind"] == "PodList"
            async with kubelet_client(vk, ctx, tokens["nobody"]) as client:
                response = await client.get("/pods")
                assert (response.status_code, response.text) == (403, "Forbidden\n")
            assert vk.server.auth.statistics().token_reviews == 2
        finally:
            await cleanup_rbac(vk, name)


async def test_spdy_exec_is_authorized_before_the_upgrade(
    controlplane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    dave = issue_certificate(controlplane, tmp_path, common_name="dave")
    erin = issue_certificate(controlplane, tmp_path, common_name="erin")
    async with kubelet_node(controlplane, "spdyauth") as vk:
        await vk.running_pod(namespace, "web")
        name = f"{vk.name}-erin"
        await grant(vk, name, {"kind": "User", "name": "erin"}, verbs=["create"])
        path = f"/exec/{namespace}/web/app?command=echo&command=allowed&output=1"
        try:
            for who, expected in ((dave, 403), (erin, 101)):
                stream = await trio.open_ssl_over_tcp_stream(
                    "127.0.0.1", vk.port, ssl_context=context(controlplane, who)
                )
                await stream.send_all(spdy_upgrade_request(path))
                status, _, rest = await read_response_head(stream)
                assert status == expected
                if status != 101:
                    await stream.aclose()
                    continue
                async with open_spdy_connection(
                    stream, client_side=True, initial_data=rest, linger=0
                ) as conn:
                    error = await conn.open_stream([("streamType", "error")])
                    stdout = await conn.open_stream([("streamType", "stdout")])
                    assert await read_to_eof(stdout) == b"allowed\n"
                    assert b'"Success"' in await read_to_eof(error)
        finally:
            await cleanup_rbac(vk, name)


async def test_anonymous_auth_is_off_by_default_without_a_client_ca(
    controlplane: ControlPlane, namespace: str
) -> None:
    # No client CA and no --anonymous-auth: the kubelet port is locked, even for the API server.
    async with kubelet_node(controlplane, "locked", client_ca_file=None) as vk:
        await vk.running_pod(namespace, "web")
        ctx = context(controlplane, (controlplane.admin_cert, controlplane.admin_key))
        async with kubelet_client(vk, ctx) as client:
            assert (await client.get("/pods")).status_code == 401
            assert (await client.get("/healthz")).status_code == 401
        assert vk.server.auth.mode.value == "locked"


async def test_anonymous_auth_opt_in_without_a_client_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "c.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "c.key"))
    config = KubeletServerConfig(
        node_name="vk-anon",
        tls_cert_file=str(tmp_path / "c.crt"),
        tls_key_file=str(tmp_path / "c.key"),
        listen_address="127.0.0.1",
        port=0,
        anonymous_auth=True,
    )
    server = KubeletServer(config, MockProvider(node_name="vk-anon"), pods=list)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        async with httpx.AsyncClient(verify=ctx) as client:
            response = await client.get(f"https://127.0.0.1:{port}/pods")
            assert response.status_code == 200
        server.stop()
