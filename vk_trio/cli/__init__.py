"""The ``vk-trio`` command line: flags and environment, validation, logging, process wiring.

``main`` parses and validates everything into a frozen :class:`Settings`, builds the provider
(:func:`create_provider`) and hands both to :func:`run_node`.
"""

from ._duration import DurationError as DurationError
from ._duration import parse_duration as parse_duration
from ._errors import SettingsError as SettingsError
from ._flags import parse_command_line as parse_command_line
from ._logging import TRACE as TRACE
from ._logging import configure_logging as configure_logging
from ._logging import level_number as level_number
from ._main import main as main
from ._provider import LoadedProvider as LoadedProvider
from ._provider import create_provider as create_provider
from ._run import run_node as run_node
from ._settings import DEFAULT_KUBELET_PORT as DEFAULT_KUBELET_PORT
from ._settings import DEFAULT_NODE_NAME as DEFAULT_NODE_NAME
from ._settings import DEFAULT_TAINT_KEY as DEFAULT_TAINT_KEY
from ._settings import KUBELET_VERSION as KUBELET_VERSION
from ._settings import Address as Address
from ._settings import Settings as Settings
from ._settings import Taint as Taint
from ._settings import settings_from as settings_from
