"""The status poller: providers without notify_pods, through the whole controller."""

import logging
from typing import Any

import pytest
import trio
import trio.testing

from .fakeprovider import PolledProvider
from .podharness import make_pod, pod_path, running

KEY = "ns/web"


async def test_polled_provider(autojump_clock: trio.testing.MockClock) -> None:
    provider = PolledProvider()
    async with running(provider, status_poll_interval=5) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: provider.called("create_pod") == [KEY])
        took = await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert took <= 5.1
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert took < 1  # the wrapper reports the pod terminated at once
        writes = [r.body["status"] for r in h.kube.calls("patch", "/pods/web/status")]
        assert writes[-1]["phase"] == "Succeeded"
        assert writes[-1]["reason"] == "Terminated"


async def test_polled_provider_lost_pod_is_failed(autojump_clock: trio.testing.MockClock) -> None:
    provider = PolledProvider()
    async with running(provider, status_poll_interval=5) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        del provider.pods[KEY]  # the backend lost it
        await h.wait_for(lambda: h.phase(KEY) == "Failed")
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["reason"] == "NotFound"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == -137


async def test_none_from_get_pod_status_is_not_found_and_logged_once(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class NoneStatusProvider(PolledProvider):
        async def get_pod_status(self, namespace: str, name: str) -> Any:
            await self._enter("get_pod_status", f"{namespace}/{name}")
            pod = self.pods.get(f"{namespace}/{name}")
            return None if pod is None else dict(pod["status"])

    provider = NoneStatusProvider()
    with caplog.at_level(logging.WARNING, logger="vk_trio.node.poller"):
        async with running(provider, status_poll_interval=5) as h:
            for name in ("web", "db"):
                h.create(make_pod(name))
            await h.wait_for(lambda: h.phase(KEY) == "Running" and h.phase("ns/db") == "Running")
            provider.pods.clear()  # the backend lost both
            await h.wait_for(lambda: h.phase(KEY) == "Failed" and h.phase("ns/db") == "Failed")
            pod = h.api_pod(KEY)
            assert pod is not None
            assert pod["status"]["reason"] == "NotFound"
    warnings = [r.getMessage() for r in caplog.records if "returned None" in r.getMessage()]
    assert len(warnings) == 1
    assert "NoneStatusProvider.get_pod_status returned None" in warnings[0]


async def test_a_malformed_status_does_not_stop_the_poller(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Malformed(PolledProvider):
        async def get_pod_status(self, namespace: str, name: str) -> Any:
            if name == "bad":
                return 42  # neither a PodStatus nor a mapping
            return await super().get_pod_status(namespace, name)

    provider = Malformed()
    async with running(provider, status_poll_interval=5) as h:
        for name in ("bad", "web"):
            h.create(make_pod(name))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await trio.sleep(20)  # several passes, each meeting the malformed status
        assert h.phase(KEY) == "Running"
        provider.pods[KEY]["status"]["message"] = "still polled"
        await h.wait_for(lambda: (h.api_pod(KEY) or {})["status"].get("message") == "still polled")


async def test_a_hung_get_pod_status_holds_up_only_its_own_pod(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Hung(PolledProvider):
        async def get_pod_status(self, namespace: str, name: str) -> Any:
            if name == "a-hung":
                await trio.sleep_forever()
            return await super().get_pod_status(namespace, name)

    provider = Hung()
    async with running(provider, status_poll_interval=5) as h:
        for name in ("a-hung", "web"):  # the hung pod comes first in the list
            h.create(make_pod(name))
        took = await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert took <= 5.1  # the first pass, not held up by the hung call
        provider.pods[KEY]["status"]["message"] = "next"
        took = await h.wait_for(
            lambda: (h.api_pod(KEY) or {})["status"].get("message") == "next", timeout=120
        )
        assert took <= 20  # passes keep coming: the hung call times out (10 s)
