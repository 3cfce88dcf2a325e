"""vk_trio.node (see docs/architecture.md)."""
