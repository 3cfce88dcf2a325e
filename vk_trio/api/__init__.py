"""The kubelet HTTPS API: logs, exec, attach, port-forward, stats and metrics, with real auth.

:class:`KubeletServer` is the component the command runs (``await nursery.start(server.run)``);
:class:`KubeletApp` is the ASGI application behind it (testable in-process with
``httpx.ASGITransport``); :class:`KubeletAuth` decides who gets in.  The SPDY/3.1 codec and the
streaming channel layer live in the :mod:`.spdy` and :mod:`.streams` subpackages.
See ``docs/kubelet-api.md``.
"""

from ._app import AppStatistics as AppStatistics
from ._app import KubeletApp as KubeletApp
from ._app import PodSource as PodSource
from ._auth import ANONYMOUS as ANONYMOUS
from ._auth import AuthMode as AuthMode
from ._auth import AuthStatistics as AuthStatistics
from ._auth import KubeletAuth as KubeletAuth
from ._auth import ReviewClient as ReviewClient
from ._auth import User as User
from ._auth import request_attributes as request_attributes
from ._frontdoor import FrontDoor as FrontDoor
from ._frontdoor import FrontDoorLimits as FrontDoorLimits
from ._frontdoor import FrontDoorStatistics as FrontDoorStatistics
from ._http import PeerIdentity as PeerIdentity
from ._review_client import open_review_client as open_review_client
from ._server import KubeletServer as KubeletServer
from ._server import KubeletServerConfig as KubeletServerConfig
from ._stats import render_metric_families as render_metric_families
from ._tls import server_ssl_context as server_ssl_context
