"""Benchmarks for vk-trio; ``python -m bench`` runs them all (``make bench``)."""
