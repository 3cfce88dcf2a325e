"""vk_trio.informers (see docs/architecture.md)."""
