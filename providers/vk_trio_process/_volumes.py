"""Pod volumes as directories in the pod's sandbox, written the way the kubelet writes them.

``emptyDir`` is a directory; ``hostPath`` (only with ``allowHostPath``) is the host path itself;
``configMap``, ``secret``, ``downwardAPI`` and ``projected`` are rendered into files with their
modes.  Rendered volumes use the kubelet's atomic layout: the files live in a timestamped
directory ``..<stamp>``, the symlink ``..data`` points at it, and each visible name is a symlink
through ``..data``.  An update writes a new timestamped directory and swaps ``..data`` with one
``rename``, so a reader sees the old set or the new set, never half of each.

Service-account tokens (``serviceAccountToken`` in a projected volume) need the TokenRequest API,
which a provider does not have: the file is left out (see docs/providers/process.md).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from vk_trio.provider import InvalidInputError, ResourceLookup

__all__ = ["SUPPORTED", "check_volumes", "render_volumes", "volume_source"]

SUPPORTED: Final = ("emptyDir", "configMap", "secret", "downwardAPI", "projected", "hostPath")
DATA: Final = "..data"

Files = dict[str, tuple[bytes, int]]


def _kind(volume: Mapping[str, Any]) -> str | None:
    return next((k for k in volume if k != "name"), None)


def check_volumes(pod: Mapping[str, Any], *, allow_host_path: bool) -> None:
    """``InvalidInputError`` naming the first volume this provider cannot give the pod."""
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        kind = _kind(volume)
        if kind not in SUPPORTED:
            raise InvalidInputError(
                f"volume {volume.get('name')!r}: type {kind!r} is not supported by the process "
                f"provider (supported: {', '.join(SUPPORTED)})"
            )
        if kind == "hostPath" and not allow_host_path:
            raise InvalidInputError(
                f"volume {volume.get('name')!r}: hostPath volumes are not allowed "
                "(set allowHostPath: true in the provider configuration)"
            )


def _mode(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _items(
    data: Mapping[str, bytes], items: Any, default_mode: int, where: str, optional: bool
) -> Files:
    files: Files = {}
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    for item in items:
        key = item.get("key")
        if key not in data:
            if optional:
                continue
            raise LookupError(f"{where}: key {key!r} not found")
        files[str(item.get("path") or key)] = (data[key], _mode(item.get("mode"), default_mode))
    return files


def _field(pod: Mapping[str, Any], path: str) -> bytes:
    meta = pod.get("metadata") or {}
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items())).encode()
    if path.startswith(("metadata.labels[", "metadata.annotations[")):
        group, _, key = path.partition("[")
        return str((meta.get(group.split(".")[1]) or {}).get(key.strip("]'\""), "")).encode()
    value: Any = pod
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return b"" if value is None else str(value).encode()


def _config_map(
    source: Mapping[str, Any], namespace: str, lookup: ResourceLookup, mode: int
) -> Files:
    name = str(source.get("name"))
    found = lookup.get_config_map(namespace, name)
    optional = bool(source.get("optional"))
    if found is None:
        if optional:
            return {}
        raise LookupError(f'configmap "{name}" not found')
    data = {k: str(v).encode() for k, v in (found.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (found.get("binaryData") or {}).items()})
    return _items(data, source.get("items"), mode, f"configmap {name!r}", optional)


def _secret(source: Mapping[str, Any], namespace: str, lookup: ResourceLookup, mode: int) -> Files:
    name = str(source.get("secretName") or source.get("name"))
    found = lookup.get_secret(namespace, name)
    optional = bool(source.get("optional"))
    if found is None:
        if optional:
            return {}
        raise LookupError(f'secret "{name}" not found')
    data = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (found.get("stringData") or {}).items()})
    return _items(data, source.get("items"), mode, f"secret {name!r}", optional)


def _downward(source: Mapping[str, Any], pod: Mapping[str, Any], mode: int) -> Files:
    files: Files = {}
    for item in source.get("items") or ():
        field = (item.get("fieldRef") or {}).get("fieldPath")
        if field:
            files[str(item["path"])] = (_field(pod, str(field)), _mode(item.get("mode"), mode))
    return files


def _files(volume: Mapping[str, Any], pod: Mapping[str, Any], lookup: ResourceLookup) -> Files:
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    kind = _kind(volume)
    source = volume.get(kind or "") or {}
    mode = _mode(source.get("defaultMode"), 0o644)
    if kind == "configMap":
        return _config_map(source, namespace, lookup, mode)
    if kind == "secret":
        return _secret(source, namespace, lookup, mode)
    if kind == "downwardAPI":
        return _downward(source, pod, mode)
    files: Files = {}
    for part in source.get("sources") or ():  # projected
        if "configMap" in part:
            files.update(_config_map(part["configMap"], namespace, lookup, mode))
        elif "secret" in part:
            files.update(_secret(part["secret"], namespace, lookup, mode))
        elif "downwardAPI" in part:
            files.update(_downward(part["downwardAPI"], pod, mode))
        # serviceAccountToken, clusterTrustBundle: not available to a provider (module doc)
    return files


def _write_atomic(directory: Path, files: Files) -> bool:
    """Lay ``files`` out with the ``..data`` swap; False if nothing changed."""
    directory.mkdir(parents=True, exist_ok=True)
    current = directory / DATA
    if current.is_symlink():
        old = directory / os.readlink(current)
        existing: Files = {}
        for path in old.rglob("*"):
            if path.is_file():
                existing[str(path.relative_to(old))] = (
                    path.read_bytes(),
                    path.stat().st_mode & 0o7777,
                )
        if existing == files:
            return False
    else:
        old = None
    stamp = directory / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    stamp.mkdir()
    for name, (content, mode) in files.items():
        target = stamp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, mode)
    link = directory / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(stamp.name)
    os.replace(link, current)
    for name in files:
        top = name.split("/", 1)[0]
        visible = directory / top
        if not visible.is_symlink():
            visible.symlink_to(f"{DATA}/{top}")
    for entry in directory.iterdir():
        if (
            entry.is_symlink()
            and entry.name != DATA
            and entry.name not in {n.split("/", 1)[0] for n in files}
        ):
            entry.unlink()
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True


def volume_source(root: Path, volume: Mapping[str, Any]) -> Path:
    """Where the volume's content is on the host."""
    if _kind(volume) == "hostPath":
        return Path(str((volume.get("hostPath") or {}).get("path")))
    return root / str(volume["name"])


def render_volumes(
    root: Path, pod: Mapping[str, Any], lookup: ResourceLookup, *, only_rendered: bool = False
) -> list[str]:
    """Create or refresh every volume of ``pod`` under ``root``; the names that changed.

    ``LookupError`` for a config map, secret or key that is missing and not optional (the pod
    waits for it, as at the kubelet).
    """
    changed = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        kind = _kind(volume)
        target = root / str(volume["name"])
        if kind == "emptyDir":
            if not only_rendered:
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, 0o777)
        elif kind == "hostPath":
            if not only_rendered:
                path = volume_source(root, volume)
                if (volume.get("hostPath") or {}).get("type") == "DirectoryOrCreate":
                    path.mkdir(parents=True, exist_ok=True)
        elif _write_atomic(target, _files(volume, pod, lookup)):
            changed.append(str(volume["name"]))
    return changed
