"""The public surface of vk_trio.cli (what the node wiring programs against)."""

import vk_trio.cli


def test_public_names() -> None:
    public = {name for name in vars(vk_trio.cli) if not name.startswith("_")}
    assert public == {
        "main",
        "run_node",
        "Settings",
        "Taint",
        "Address",
        "settings_from",
        "parse_command_line",
        "SettingsError",
        "LoadedProvider",
        "create_provider",
        "configure_logging",
        "level_number",
        "TRACE",
        "parse_duration",
        "DurationError",
        "DEFAULT_KUBELET_PORT",
        "DEFAULT_NODE_NAME",
        "DEFAULT_TAINT_KEY",
        "KUBELET_VERSION",
    }
