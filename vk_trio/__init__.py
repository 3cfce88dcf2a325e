"""vk-trio: Virtual Kubelet rebuilt in Python on trio.

A process that masquerades as a Kubernetes node: it registers a virtual node,
takes the pods scheduled to it, hands them to a pluggable provider, writes
their status back, keeps the node alive with a Lease and serves the kubelet
HTTPS API.  The subpackages are layered (see ``docs/architecture.md``);
``vk_trio.queue`` stands on its own and can be embedded in any trio program.
"""

__version__ = "0.1.0"
