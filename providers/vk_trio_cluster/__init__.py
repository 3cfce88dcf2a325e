"""The cluster provider (``--provider cluster``): a virtual node that stands for a whole remote
Kubernetes cluster.

Pods scheduled to the node are created in the remote cluster (same name, in a namespace made from
the ``remoteNamespace`` template), together with copies of the ConfigMaps and Secrets they use and
a home-cluster service-account token; a remote pod informer brings their status back, and the
kubelet API (logs, exec, attach, port-forward, stats) goes through the remote API server.  See
``docs/providers/cluster.md``.
"""

from ._config import ClusterConfig as ClusterConfig
from ._config import load_cluster_config as load_cluster_config
from ._config import parse_cluster_config as parse_cluster_config
from ._factory import create_provider as create_provider
from ._labels import NODE_LABEL as NODE_LABEL
from ._labels import ORIGIN_NAME_ANNOTATION as ORIGIN_NAME_ANNOTATION
from ._labels import ORIGIN_NAMESPACE_ANNOTATION as ORIGIN_NAMESPACE_ANNOTATION
from ._labels import ORIGIN_NAMESPACE_LABEL as ORIGIN_NAMESPACE_LABEL
from ._labels import ORIGIN_UID_ANNOTATION as ORIGIN_UID_ANNOTATION
from ._labels import ORIGIN_UID_LABEL as ORIGIN_UID_LABEL
from ._provider import ClusterProvider as ClusterProvider
from ._translate import remote_pod_for as remote_pod_for
