"""The public surface of vk_trio.provider.testing is deliberate, like vk_trio.provider's."""

import vk_trio.provider.testing

EXPECTED = {"ProviderConformance", "CASES", "applicable_cases"}


def test_public_names() -> None:
    public = {name for name in vars(vk_trio.provider.testing) if not name.startswith("_")}
    assert public == EXPECTED
