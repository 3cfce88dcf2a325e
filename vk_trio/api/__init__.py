"""vk_trio.api (see docs/architecture.md)."""
