"""vk_trio.kube (see docs/architecture.md)."""
