"""The public surface of vk_trio.api (the spdy and streams subpackages pin their own)."""

import vk_trio.api


def test_public_names() -> None:
    public = {name for name in vars(vk_trio.api) if not name.startswith("_")}
    assert public - {"spdy", "streams"} == {
        "ANONYMOUS",
        "AppStatistics",
        "AuthMode",
        "AuthStatistics",
        "FrontDoor",
        "FrontDoorLimits",
        "FrontDoorStatistics",
        "KubeletApp",
        "KubeletAuth",
        "KubeletServer",
        "KubeletServerConfig",
        "PeerIdentity",
        "PodSource",
        "ReviewClient",
        "User",
        "open_review_client",
        "render_metric_families",
        "request_attributes",
        "server_ssl_context",
    }
