"""The real client and the test fake both satisfy the controllers' client protocol."""

from vk_trio.kube import KubeClient
from vk_trio.node import KubeApi

from .fakekube import FakeKube


def accepts(client: KubeApi) -> KubeApi:
    return client


def test_fake_and_real_client_fit_the_protocol() -> None:
    # mypy checks the assignments; at run time we only make sure the names line up
    fake: KubeApi = accepts(FakeKube())
    for verb in ("get", "create", "update", "patch", "delete"):
        assert callable(getattr(fake, verb))
        assert callable(getattr(KubeClient, verb))


def _static_check(client: KubeClient) -> KubeApi:
    return accepts(client)
