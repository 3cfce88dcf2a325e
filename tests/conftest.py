"""Shared fixtures: the real Kubernetes control plane (see README, "Control plane").

Fixtures (all synchronous, usable from trio tests):

* ``controlplane`` (session): etcd + kube-apiserver only. The workhorse for API tests: nothing
  else writes to the cluster, so what a test sees is what it (or the code under test) did.
* ``controlplane_full`` (session): a second control plane that also runs kube-scheduler and
  kube-controller-manager (node-lifecycle, garbage-collector, namespace, service-account
  controllers). For tests of scheduling, node heartbeats/NotReady, cascading deletion.
* ``controlplane_factory`` (session): ``start(name, **up_options) -> ControlPlane`` for tests that
  need a private control plane (fault injection: ``restart``, ``compact``); all are stopped at
  session end.
* ``namespace`` (function): a fresh namespace in ``controlplane``; ``make_namespace(cp)`` makes
  one in any control plane (and waits for its ``default`` ServiceAccount where a controller
  manager creates it).

Control planes start lazily, on first use. If one cannot be built or started, every test that
uses it fails with the reason; none is skipped.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._controlplane import (
    ApiError,
    ControlPlane,
    ControlPlaneError,
    build,
    wait_for,
)

_CONTROLPLANE_FIXTURES = frozenset(
    {"controlplane", "controlplane_full", "controlplane_factory", "namespace", "make_namespace"}
)

StartControlPlane = Callable[..., ControlPlane]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark control-plane tests and build the binary up front (outside any test's timeout).

    Building here rather than in a fixture keeps a cold build (minutes) from counting against the
    first test's timeout; it only happens when a selected test needs the control plane.
    """
    needs = False
    for item in items:
        if _CONTROLPLANE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.controlplane)
            needs = True
    if needs and not config.option.collectonly:
        try:
            build()
        except ControlPlaneError as exc:
            # Remembered and reported by the fixtures, so the affected tests fail with it.
            config.stash[_BUILD_ERROR] = str(exc)


_BUILD_ERROR = pytest.StashKey[str]()


def _start(config: pytest.Config, directory: Path, **options: Any) -> ControlPlane:
    if error := config.stash.get(_BUILD_ERROR, None):
        pytest.fail(f"control plane unavailable: {error}", pytrace=False)
    try:
        return ControlPlane.up(directory, owner_pid=os.getpid(), **options)
    except ControlPlaneError as exc:
        pytest.fail(f"control plane unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def controlplane_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartControlPlane]:
    started: list[ControlPlane] = []

    def start(name: str = "cp", **options: Any) -> ControlPlane:
        cp = _start(request.config, tmp_path_factory.mktemp(name), **options)
        started.append(cp)
        return cp

    yield start
    errors = []
    for cp in reversed(started):
        try:
            cp.down()
        except ControlPlaneError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def controlplane(controlplane_factory: StartControlPlane) -> ControlPlane:
    return controlplane_factory("controlplane")


@pytest.fixture(scope="session")
def controlplane_full(controlplane_factory: StartControlPlane) -> ControlPlane:
    return controlplane_factory(
        "controlplane-full", with_scheduler=True, with_controller_manager=True
    )


def unique_name(prefix: str, hint: str = "") -> str:
    """A DNS-1123 label: ``prefix-hint-random``, at most 63 characters."""
    hint = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:30].strip("-")
    suffix = uuid.uuid4().hex[:8]
    return "-".join(part for part in (prefix, hint, suffix) if part)


@pytest.fixture
def make_namespace(request: pytest.FixtureRequest) -> Iterator[Callable[[ControlPlane], str]]:
    created: list[tuple[ControlPlane, str]] = []

    def make(cp: ControlPlane) -> str:
        name = unique_name("t", request.node.name)
        with cp.admin_client() as api:
            api.create("/api/v1/namespaces", {"metadata": {"name": name}})
            if "kube-controller-manager" in cp.components:
                # ServiceAccount admission is on: pods are refused until the controller
                # manager has created the namespace's `default` ServiceAccount.
                wait_for(
                    lambda: _exists(api, f"/api/v1/namespaces/{name}/serviceaccounts/default"),
                    timeout=60,
                    message=f"ServiceAccount {name}/default",
                )
        created.append((cp, name))
        return name

    yield make
    for cp, name in created:
        # Without a controller manager the namespace stays Terminating; names are unique, so
        # that never gets in a later test's way.
        with cp.admin_client() as api:
            try:
                api.delete(f"/api/v1/namespaces/{name}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
            except httpx.TransportError:
                pass  # that control plane was stopped by the test itself


@pytest.fixture
def namespace(controlplane: ControlPlane, make_namespace: Callable[[ControlPlane], str]) -> str:
    return make_namespace(controlplane)


def _exists(api: Any, path: str) -> bool:
    try:
        api.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True
