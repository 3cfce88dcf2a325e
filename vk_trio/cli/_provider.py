"""Building the chosen provider before anything starts, so its configuration errors are start-up
errors: the factory runs once, here, and the node gets the result."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import final

import attrs

from vk_trio.provider import (
    InvalidInputError,
    LateResourceLookup,
    PodLifecycleHandler,
    ProviderConfig,
    ProviderLoadError,
    UnknownProviderError,
    check_provider,
    load_provider_factory,
)

from ._errors import SettingsError
from ._settings import Settings

__all__ = ["LoadedProvider", "create_provider"]

logger = logging.getLogger(__name__)


@final
@attrs.frozen(kw_only=True)
class LoadedProvider:
    """The provider built for this run, with the configuration it was built from.

    ``resources`` is the lookup handle the provider received: the node binds it to its informer
    caches once they exist (``resources.bind(...)``).
    """

    name: str
    provider: PodLifecycleHandler
    config: ProviderConfig
    resources: LateResourceLookup


def create_provider(
    settings: Settings, found: Iterable[EntryPoint] | None = None
) -> LoadedProvider:
    """Look the provider up, build it, and check it is one (:func:`check_provider`: the method
    shapes, not only their names).  Raises :class:`SettingsError`.

    ``found`` replaces the installed entry points (tests).
    """
    name = settings.provider
    source = f'provider "{name}"'
    try:
        factory = load_provider_factory(name, found)
    except UnknownProviderError as exc:
        raise SettingsError("--provider", str(exc)) from None
    except ProviderLoadError as exc:
        raise SettingsError("--provider", str(exc)) from None
    resources = LateResourceLookup()
    config = ProviderConfig(
        provider_name=name,
        node_name=settings.node_name,
        config_path=settings.provider_config,
        operating_system=settings.operating_system,
        internal_ip=settings.pod_ip,
        daemon_port=settings.kubelet_port,
        cluster_domain=settings.cluster_domain,
        kubeconfig=settings.kubeconfig,
        resources=resources,
    )
    try:
        provider = factory(config)
    except InvalidInputError as exc:
        raise SettingsError(source, str(exc)) from None
    except OSError as exc:
        raise SettingsError(source, f"{exc.strerror or exc}: {exc.filename or ''}") from None
    except Exception as exc:
        logger.debug("provider factory failed", exc_info=True)
        raise SettingsError(source, f"failed to start: {type(exc).__name__}: {exc}") from None
    if not isinstance(provider, PodLifecycleHandler):
        raise SettingsError(
            source, f"the factory returned {type(provider).__name__}, not a PodLifecycleHandler"
        )
    try:
        check_provider(provider)
    except ProviderLoadError as exc:
        raise SettingsError(source, str(exc)) from None
    return LoadedProvider(name=name, provider=provider, config=config, resources=resources)
