"""A deleted Node comes back at once, even while its Lease survives (issue 13.12).

The control plane here has no garbage collector, so the Lease (owned by the Node) outlives the
Node, as it does for a while in a real cluster: the lease controller has nothing to notice. The
status tick is set to an hour, so the only way the Node can come back within the test's (generous)
bound is the controller's watch of its own Node.
"""

from tests._controlplane import ControlPlane
from tests._waits import WAIT

from ._node_support import eventually, running_node


async def test_deleted_node_is_registered_again_through_the_watch(
    controlplane: ControlPlane,
) -> None:
    async with running_node(controlplane, "watch", status_interval=3600.0) as vk:
        path = f"/api/v1/nodes/{vk.name}"
        lease = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{vk.name}"
        assert await vk.get(lease) is not None
        for _ in range(2):  # and again: the watch survives its own Node's replacement
            old_uid = (await vk.client.get(path))["metadata"]["uid"]
            await vk.client.delete(path)

            async def recreated(old_uid: str = old_uid) -> bool:
                node = await vk.get(path)
                return node is not None and node["metadata"]["uid"] != old_uid

            await eventually(recreated, timeout=WAIT)
            assert await vk.get(lease) is not None  # the Lease never went away
