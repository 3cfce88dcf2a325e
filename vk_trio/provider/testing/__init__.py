"""The provider conformance kit: what every provider must pass, in pytest with pytest-trio.

Ten lines in the provider's own tests::

    from vk_trio.provider.testing import ProviderConformance

    from my_provider import MyProvider


    class TestMyProvider(ProviderConformance):
        provider_class = MyProvider

        async def make_provider(self) -> MyProvider:
            return MyProvider(node_name="vk-test")

pytest then runs ``test_conformance[<case>]`` for every case that applies to the provider:
``lifecycle``, ``not-found``, ``delete-is-idempotent``, ``concurrent-pods``, ``cancellation``
for all; ``notifications``, ``logs``, ``exec``, ``attach``, ``port-forward``, ``stats`` and
``metrics`` for providers implementing that capability; and ``not-applicable:<list>`` naming
(and checking the absence of) the rest.  See ``docs/provider.md``.

The case runs under pytest-trio whether or not the project sets ``trio_mode``.  This package
imports pytest and is never imported by vk-trio itself: only tests use it.
"""

from ._conformance import CASES as CASES
from ._conformance import ProviderConformance as ProviderConformance
from ._conformance import applicable_cases as applicable_cases
