"""vk_trio.provider (see docs/architecture.md)."""
