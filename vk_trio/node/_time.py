"""Transitional: the pod controller's timestamp imports, answered by :mod:`vk_trio.util`.

Timestamps are formatted and parsed in one place, :mod:`vk_trio.util` (``_time``); nothing is
implemented here. This re-export only keeps ``_pod_controller`` importing while it is being split
into its concepts; the new modules import from :mod:`vk_trio.util` and this file goes with it.
"""

from ..util import Now, parse_time, utc_now

__all__ = ["Now", "parse_time", "utc_now"]
