"""The pod controller against the real API server, with the mock provider (section 8.5)."""

from typing import Any

import trio

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio_mock import FailurePlan, MockConfig, MockKnobs

from ._node_support import JSON, RunningNode, eventually, running_node


async def running_pod(vk: RunningNode, namespace: str, name: str) -> JSON:
    async def check() -> JSON | None:
        pod = await vk.pod(namespace, name)
        if pod is not None and pod.get("status", {}).get("phase") == "Running":
            return pod
        return None

    pod: JSON = await eventually(check)
    return pod


async def test_pod_reaches_running_with_an_event(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with running_node(controlplane, "create") as vk:
        await vk.create_pod(namespace, "web")
        pod = await running_pod(vk, namespace, "web")
        status = pod["status"]
        assert status["hostIP"] == "1.2.3.4"
        assert status["podIP"] == "5.6.7.8"
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions == {"Initialized": "True", "Ready": "True", "PodScheduled": "True"}
        [container] = status["containerStatuses"]
        assert container["ready"] is True
        assert "running" in container["state"]
        assert status["qosClass"] == "BestEffort"  # the API server's field is kept
        events = await eventually(lambda: vk.events_for(namespace, "web"))
        [event] = events
        assert event["reason"] == "ProviderCreateSuccess"
        assert event["message"] == "Create pod in provider successfully"
        assert event["type"] == "Normal"
        assert event["source"]["component"] == f"{vk.name}/pod-controller"


async def test_graceful_delete_finishes_when_containers_stop(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with running_node(controlplane, "delete") as vk:
        await vk.create_pod(namespace, "web")
        running = await running_pod(vk, namespace, "web")
        path = vk.pod_path(namespace, "web")
        seen: list[JSON] = []
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                # from the version seen Running: no event after it can be missed
                async with vk.client.watch(
                    vk.pod_path(namespace),
                    field_selector="metadata.name=web",
                    resource_version=running["metadata"]["resourceVersion"],
                ) as events:
                    async for event in events:
                        seen.append({"type": event.type, **event.object})
                        if event.type == "DELETED":
                            return

            nursery.start_soon(watch)
            started = trio.current_time()
            # a grace period far beyond the wait: ending before it is the behaviour under test
            await vk.client.delete(path, grace_period_seconds=3600)
            await eventually(lambda: _absent(vk, path))
            took = trio.current_time() - started
        assert took < WAIT  # the Go version keeps it for the whole grace period
        phases = [e.get("status", {}).get("phase") for e in seen if e["type"] == "MODIFIED"]
        assert "Succeeded" in phases  # the terminal status was visible before removal
        terminal = next(e for e in seen if e.get("status", {}).get("phase") == "Succeeded")
        assert terminal["status"]["reason"] == "MockProviderPodDeleted"
        state = terminal["status"]["containerStatuses"][0]["state"]["terminated"]
        assert state["reason"] == "MockProviderPodContainerDeleted"
        reasons = await eventually(lambda: _has(vk, namespace, "web", "ProviderDeleteSuccess"))
        assert "ProviderDeleteSuccess" in reasons
        assert vk.provider.statistics().pods == 0


async def _absent(vk: RunningNode, path: str) -> bool:
    return await vk.get(path) is None


async def _has(vk: RunningNode, namespace: str, name: str, reason: str) -> list[str] | None:
    reasons = await vk.reasons(namespace, name)
    return reasons if reason in reasons else None


async def test_force_delete_reaches_the_provider(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with running_node(controlplane, "force") as vk:
        await vk.create_pod(namespace, "web")
        await running_pod(vk, namespace, "web")
        await vk.client.delete(vk.pod_path(namespace, "web"), grace_period_seconds=0)

        async def gone_from_provider() -> bool:
            return bool(vk.provider.statistics().pods == 0)

        await eventually(gone_from_provider)


async def test_label_change_updates_and_status_change_does_not(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with running_node(controlplane, "update") as vk:
        await vk.create_pod(namespace, "web")
        await running_pod(vk, namespace, "web")
        path = vk.pod_path(namespace, "web")
        await vk.client.patch(path, {"metadata": {"labels": {"tier": "front"}}})
        await eventually(lambda: _has(vk, namespace, "web", "ProviderUpdateSuccess"))
        updates = vk.provider.statistics().updates
        # a third party writes the status: no provider call, and the provider's status returns
        await vk.client.patch(f"{path}/status", {"status": {"message": "meddling"}})

        async def reasserted() -> bool:
            pod = await vk.pod(namespace, "web")
            return pod is not None and "message" not in pod["status"]

        await eventually(reasserted)
        await trio.sleep(1)
        assert vk.provider.statistics().updates == updates
        reasons = await vk.reasons(namespace, "web")
        assert reasons.count("ProviderUpdateSuccess") == 1


async def test_provider_failures_are_retried_and_visible(
    controlplane: ControlPlane, namespace: str
) -> None:
    knobs = MockKnobs(failures={"create": FailurePlan(nth=frozenset({1, 2}), message="boom")})
    async with running_node(controlplane, "fail", mock_config=MockConfig(knobs=knobs)) as vk:
        await vk.create_pod(namespace, "web")
        await running_pod(vk, namespace, "web")
        await vk.reasons_with(namespace, "web", "ProviderCreateFailed", "ProviderCreateSuccess")

        async def folded() -> list[JSON] | None:
            failed = [
                e
                for e in await vk.events_for(namespace, "web")
                if e["reason"] == "ProviderCreateFailed"
            ]
            return failed if failed and failed[0].get("count") == 2 else None

        # the repeat is folded into the first event (count 2), not posted as a second one
        failed = await eventually(folded)
        assert len(failed) == 1
        assert failed[0]["message"] == "boom"


def _env_pod(env: list[JSON], **extra: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "nginx", "env": env}], **extra}


async def test_env_failures_and_successes(controlplane: ControlPlane, namespace: str) -> None:
    async with running_node(controlplane, "env") as vk:
        missing_secret = [
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}
        ]
        optional_cm = [
            {
                "name": "C",
                "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
            }
        ]
        await vk.create_pod(namespace, "mandatory", **_env_pod(missing_secret))
        await vk.create_pod(namespace, "optional", **_env_pod(optional_cm))
        await running_pod(vk, namespace, "optional")
        await vk.reasons_with(namespace, "optional", "OptionalConfigMapNotFound")

        async def reason() -> str | None:
            pod = await vk.pod(namespace, "mandatory")
            return None if pod is None else pod["status"].get("reason")

        assert await eventually(reason) == "CreateContainerConfigError"
        await vk.reasons_with(namespace, "mandatory", "MandatorySecretNotFound")
        assert await vk.provider.get_pods() != [] and all(
            p["metadata"]["name"] != "mandatory" for p in await vk.provider.get_pods()
        )
        # once the secret exists, a retry picks it up
        await vk.client.create(
            f"/api/v1/namespaces/{namespace}/secrets",
            {"metadata": {"name": "nope"}, "stringData": {"k": "v"}},
        )
        await running_pod(vk, namespace, "mandatory")
        provider_pod = await vk.provider.get_pod(namespace, "mandatory")
        assert provider_pod is not None
        env = {e["name"]: e.get("value") for e in provider_pod["spec"]["containers"][0]["env"]}
        assert env["S"] == "v"
        pod = await vk.pod(namespace, "mandatory")
        assert pod is not None
        assert "reason" not in pod["status"]  # the provider's status replaced the failure


async def test_service_links_and_runtime_fields(controlplane: ControlPlane, namespace: str) -> None:
    async with running_node(controlplane, "links") as vk:
        await vk.client.create(
            f"/api/v1/namespaces/{namespace}/services",
            {
                "metadata": {"name": "my-db"},
                "spec": {"ports": [{"port": 5432}], "selector": {"app": "db"}},
            },
        )
        env = [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ]
        assert vk.node is not None

        async def cached() -> bool:  # the service reached the informer cache
            services = vk.node.lookups.list_services(namespace)  # type: ignore[union-attr]
            return any(s["metadata"]["name"] == "my-db" for s in services)

        await eventually(cached)
        await vk.create_pod(namespace, "linked", **_env_pod(env, enableServiceLinks=True))
        await vk.create_pod(namespace, "unlinked", **_env_pod(env))
        await running_pod(vk, namespace, "linked")
        await running_pod(vk, namespace, "unlinked")
        linked = await vk.provider.get_pod(namespace, "linked")
        unlinked = await vk.provider.get_pod(namespace, "unlinked")
        assert linked is not None and unlinked is not None
        linked_env = {e["name"]: e for e in linked["spec"]["containers"][0]["env"]}
        unlinked_env = {e["name"]: e for e in unlinked["spec"]["containers"][0]["env"]}
        assert linked["spec"]["containers"][0]["envFrom"] == []
        assert "MY_DB_SERVICE_HOST" in linked_env
        assert linked_env["MY_DB_SERVICE_PORT"]["value"] == "5432"
        assert "MY_DB_SERVICE_HOST" not in unlinked_env
        assert "KUBERNETES_SERVICE_HOST" in unlinked_env
        assert linked_env["NODE"]["value"] == vk.name
        # status.podIP is the provider's to fill in: handed over as a fieldRef
        assert linked_env["IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
