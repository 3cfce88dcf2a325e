"""Where the API server is and how to talk to it: kubeconfig and in-cluster config.

Loading is delegated to the official ``kubernetes`` package (``kubernetes.config``):
kubeconfig merging, contexts, inline or file certificates, tokens, token files,
exec plugins and auth providers are its job, not re-implemented here.  This
module runs that loader in a worker thread (it reads files and may run a
plugin), checks the result, builds an ``ssl.SSLContext`` from it and wraps the
credentials so that they stay fresh (:mod:`._credentials`).  The ``kubernetes``
package is imported only here and only when a config is loaded: it is large
and slow to import, and its models never touch the hot path.

Certificates given inline (``certificate-authority-data``, ``client-certificate-data``,
``client-key-data``) never touch a file system: they are taken out of the parsed kubeconfig
before the loader sees them (it would write each to a temporary file, the private key
included, which also fails on a read-only root filesystem without a writable ``/tmp``); the
CA goes to ``ssl`` as data and the client pair through anonymous memory files
(``memfd_create``).  Only where memory files do not exist (not Linux) is the pair written to a
private temporary directory, and removed as soon as ``ssl`` has read it.

Search order of :func:`load_config` (as controller-runtime and kubectl-based
tools do): an explicit path, then ``$KUBECONFIG`` (``:``-separated files,
merged), then the in-cluster service account (``KUBERNETES_SERVICE_HOST``),
then ``~/.kube/config``.  Every failure becomes one :class:`ConfigError` that
names the file (or "in-cluster config") and the problem.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import importlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from typing import Any, Final, final

import attrs
import trio

from ._credentials import (
    Credentials,
    CredentialsTimeout,
    LoaderCredentials,
    StaticCredentials,
    load_in_thread,
)
from ._transport import default_ssl_context

__all__ = ["ConfigError", "KubeConfig", "load_config"]

SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"


class ConfigError(Exception):
    """The client configuration is missing or broken; the message says where and what."""


@final
@attrs.frozen(eq=False)
class KubeConfig:
    """A loaded client configuration.

    ``server`` is the API server URL (it may carry a path prefix);
    ``ssl_context`` verifies the server and presents the client certificate
    (``None`` for plain ``http``); ``tls_server_name`` overrides the name used
    for SNI and verification; ``credentials`` yields the ``Authorization``
    header; ``namespace`` is the context's (or the pod's) namespace; ``source``
    says where it came from, for messages.
    """

    server: str
    ssl_context: ssl.SSLContext | None = None
    tls_server_name: str | None = None
    credentials: Credentials = attrs.field(factory=StaticCredentials)
    namespace: str = "default"
    source: str = "explicit"

    @classmethod
    def for_server(
        cls,
        server: str,
        *,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tls_server_name: str | None = None,
        namespace: str = "default",
    ) -> KubeConfig:
        """A config for a known server with an optional static bearer token."""
        if server.startswith("https://") and ssl_context is None:
            ssl_context = default_ssl_context()
        return cls(
            server=server.rstrip("/"),
            ssl_context=ssl_context,
            tls_server_name=tls_server_name,
            credentials=StaticCredentials(f"Bearer {token}" if token else None),
            namespace=namespace,
            source=f"server {server}",
        )


async def load_config(kubeconfig: str | None = None, *, context: str | None = None) -> KubeConfig:
    """Load the client configuration (see the module docstring for the search order).

    ``kubeconfig`` is a file path (``~`` is expanded); ``context`` picks a
    kubeconfig context other than ``current-context``.  Raises
    :class:`ConfigError`.
    """
    found = await trio.to_thread.run_sync(_discover, kubeconfig)
    if found is None:
        return await load_in_cluster_config()
    paths, source = found
    return await _load_kubeconfig(paths, context, source)


def _discover(kubeconfig: str | None) -> tuple[list[str], str] | None:
    """Which kubeconfig files to load (None: in-cluster); blocking, run in a thread."""
    if kubeconfig is not None:
        path = os.path.expanduser(kubeconfig)
        _check_file(path, f"kubeconfig {path}")
        return [path], f"kubeconfig {path}"
    env = os.environ.get("KUBECONFIG", "")
    if env.strip():
        paths = [os.path.expanduser(p) for p in env.split(os.pathsep) if p.strip()]
        existing = [p for p in paths if os.path.exists(p)]
        if not existing:
            plural = "s" if len(paths) > 1 else ""
            raise ConfigError(f"kubeconfig from $KUBECONFIG ({env}): no such file{plural}")
        source = f"kubeconfig {':'.join(existing)}"
        for path in existing:
            _check_file(path, source)
        return existing, source
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    default = os.path.expanduser("~/.kube/config")
    if os.path.exists(default):
        _check_file(default, f"kubeconfig {default}")
        return [default], f"kubeconfig {default}"
    raise ConfigError(
        "no Kubernetes client configuration found: pass a kubeconfig path, set $KUBECONFIG,"
        " run in a pod with a service account, or create ~/.kube/config"
    )


def _check_file(path: str, source: str) -> None:
    if not os.path.exists(path):
        raise ConfigError(f"{source}: file does not exist")
    if os.path.isdir(path):
        raise ConfigError(f"{source}: {path} is a directory, not a file")


def _kubernetes(module: str) -> Any:
    """Import a module of the ``kubernetes`` package lazily (it is big and slow to import)."""
    return importlib.import_module(module)


def _read_namespace(service_account_dir: str) -> str:
    try:
        with open(os.path.join(service_account_dir, "namespace")) as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


async def load_in_cluster_config(
    *,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    environ: dict[str, str] | None = None,
) -> KubeConfig:
    """The pod's service-account config (``KUBERNETES_SERVICE_HOST/PORT``, token, CA)."""
    env = dict(os.environ) if environ is None else environ
    token_file = os.path.join(service_account_dir, "token")
    ca_file = os.path.join(service_account_dir, "ca.crt")
    source = "in-cluster config"

    def build_loader() -> Any:
        module = _kubernetes("kubernetes.config.incluster_config")
        return module.InClusterConfigLoader(
            token_filename=token_file, cert_filename=ca_file, environ=env
        )

    def load() -> tuple[Any, datetime.datetime | None]:
        config = _kubernetes("kubernetes.client").Configuration()
        build_loader().load_and_set(config)
        return config, None

    config, _ = await _run_loader(load, source)
    namespace = await trio.to_thread.run_sync(_read_namespace, service_account_dir)
    ssl_context = _ssl_context(config, source)
    credentials = LoaderCredentials(
        lambda: _call_loader(load, source), file_based=True, initial=(config, None)
    )
    credentials.prime()
    return KubeConfig(
        server=str(config.host).rstrip("/"),
        ssl_context=ssl_context,
        credentials=credentials,
        namespace=namespace,
        source=source,
    )


async def _load_kubeconfig(paths: list[str], context: str | None, source: str) -> KubeConfig:
    if context is not None:
        source = f"{source} (context {context})"
    joined = os.pathsep.join(paths)

    def make_loader() -> Any:
        module = _kubernetes("kubernetes.config.kube_config")
        merged = module.KubeConfigMerger(joined)
        if merged.config is None:
            raise _Problem("no configuration in the file (it is empty)")
        holder["inline"] = _take_inline_data(merged.config)
        return module.KubeConfigLoader(
            config_dict=merged.config, active_context=context, config_base_path=None
        )

    holder: dict[str, Any] = {}

    def load() -> tuple[Any, datetime.datetime | None]:
        loader = holder.get("loader")
        if loader is None:
            loader = holder["loader"] = make_loader()
        config = _kubernetes("kubernetes.client").Configuration()
        loader.load_and_set(config)
        expiry = loader.__dict__.get("expiry")
        return config, expiry if isinstance(expiry, datetime.datetime) else None

    config, expiry = await _run_loader(load, source)
    loader = holder["loader"]
    user = _user_section(loader)
    if user.get("exec") and not _has_credentials(config):
        try:
            detail = await load_in_thread(lambda: _exec_failure(loader), busy=[])
        except CredentialsTimeout as exc:
            detail = str(exc)
        raise ConfigError(f"{source}: the exec credential plugin failed: {detail}")
    if user.get("proxy-url") or _cluster_section(loader).get("proxy-url"):
        raise ConfigError(f"{source}: proxy-url is not supported by this client")
    current = getattr(loader, "current_context", None)
    inline = _inline_for(holder["inline"], current)
    ssl_context = _ssl_context(config, source, inline)
    namespace = "default"
    if isinstance(current, dict):
        ns = (current.get("context") or {}).get("namespace")
        if isinstance(ns, str) and ns:
            namespace = ns
        if context is None and current.get("name"):
            source = f"{source} (context {current['name']})"
    file_based = bool(user.get("tokenFile")) and not user.get("token")
    credentials = LoaderCredentials(
        lambda: _call_loader(load, source),
        file_based=file_based,
        ssl_context=ssl_context,
        initial=(config, expiry),
    )
    credentials.prime()
    return KubeConfig(
        server=str(config.host).rstrip("/"),
        ssl_context=ssl_context,
        tls_server_name=getattr(config, "tls_server_name", None) or None,
        credentials=credentials,
        namespace=namespace,
        source=source,
    )


class _Problem(Exception):
    """A problem found inside the loader thread, already phrased for the user."""


#: kubeconfig keys whose value is base64 data, by section kind: (data key, its file key).
_INLINE_KEYS: Final = {
    "cluster": (("certificate-authority-data", "certificate-authority"),),
    "user": (
        ("client-certificate-data", "client-certificate"),
        ("client-key-data", "client-key"),
    ),
}


@final
@attrs.frozen
class _Inline:
    """Decoded inline certificate data of the active cluster and user (PEM or DER bytes)."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None


def _take_inline_data(merged: Any) -> dict[tuple[str, str], dict[str, bytes]]:
    """Remove the ``*-data`` keys from every cluster and user of the merged kubeconfig (and
    the file key next to one: data wins, as kubectl has it) and return them decoded, by
    (kind, name).  The loader then has nothing to write to a temporary file."""
    taken: dict[tuple[str, str], dict[str, bytes]] = {}
    root = getattr(merged, "value", merged)
    if not isinstance(root, dict):
        return taken
    for kind, keys in _INLINE_KEYS.items():
        for item in root.get(f"{kind}s") or []:
            entry = getattr(item, "value", item)
            section = entry.get(kind) if isinstance(entry, dict) else None
            if not isinstance(section, dict):
                continue
            name = str(entry.get("name", ""))
            for data_key, file_key in keys:
                if data_key not in section:
                    continue
                text = section.pop(data_key)
                section.pop(file_key, None)
                if not text:
                    continue  # empty data counts as absent, as in kubectl
                try:
                    decoded = base64.b64decode(str(text), validate=True)
                except (binascii.Error, ValueError):
                    raise _Problem(f"{data_key} of {kind} {name!r} is not valid base64") from None
                taken.setdefault((kind, name), {})[data_key] = decoded
    return taken


def _inline_for(taken: dict[tuple[str, str], dict[str, bytes]], current: Any) -> _Inline:
    context = (current.get("context") or {}) if isinstance(current, dict) else {}
    cluster = taken.get(("cluster", str(context.get("cluster", ""))), {})
    user = taken.get(("user", str(context.get("user", ""))), {})
    return _Inline(
        ca=cluster.get("certificate-authority-data"),
        cert=user.get("client-certificate-data"),
        key=user.get("client-key-data"),
    )


@contextlib.contextmanager
def _memory_files(*contents: bytes) -> Iterator[list[str]]:
    """Paths that read as ``contents`` for as long as the block runs, without a file on disk:
    anonymous memory files seen through ``/proc/self/fd``; a private temporary directory
    (mode 0700, removed afterwards) where there are none."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for data in contents:
                fd = memfd_create("vk-trio-kubeconfig", os.MFD_CLOEXEC)
                fds.append(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            yield [f"/proc/self/fd/{fd}" for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="vk-trio-")
    try:
        paths = []
        for index, data in enumerate(contents):
            path = os.path.join(directory, str(index))
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(data)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _ca_data(data: bytes) -> str | bytes:
    """``cadata`` for ``ssl``: PEM as text, anything else as DER bytes."""
    if b"-----BEGIN" in data:
        return data.decode("ascii", errors="replace")
    return data


def _user_section(loader: Any) -> dict[str, Any]:
    user = getattr(loader, "_user", None)
    value = getattr(user, "value", user)
    return value if isinstance(value, dict) else {}


def _cluster_section(loader: Any) -> dict[str, Any]:
    cluster = getattr(loader, "_cluster", None)
    value = getattr(cluster, "value", cluster)
    return value if isinstance(value, dict) else {}


def _has_credentials(config: Any) -> bool:
    api_key = getattr(config, "api_key", None) or {}
    return bool(api_key.get("BearerToken")) or bool(getattr(config, "cert_file", None))


def _exec_failure(loader: Any) -> str:
    """Re-run the plugin to get its error (the loader only logs it); failure path only."""
    try:
        provider = _kubernetes("kubernetes.config.exec_provider").ExecProvider
        status = provider(loader._user["exec"], os.getcwd(), loader._cluster).run()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return f"its output has neither a token nor a client certificate: {sorted(status)}"


def _call_loader(load: Any, source: str) -> tuple[Any, datetime.datetime | None]:
    """Run ``load`` (in a worker thread), turning every failure into a ConfigError."""
    try:
        result: tuple[Any, datetime.datetime | None] = load()
    except ConfigError:
        raise
    except _Problem as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"{source}: {_describe(exc, source)}") from exc
    return result


async def _run_loader(load: Any, source: str) -> tuple[Any, datetime.datetime | None]:
    try:  # bounded: a hung exec plugin must not hang start-up (nor its SIGTERM)
        return await load_in_thread(lambda: _call_loader(load, source), busy=[])
    except CredentialsTimeout as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _describe(exc: BaseException, source: str = "") -> str:
    name = type(exc).__name__
    if name == "ConfigException":
        return str(exc).strip() or "invalid configuration"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    if "yaml" in type(exc).__module__:
        return f"not valid YAML: {_yaml_problem(exc, source)}"
    if isinstance(exc, KeyError | TypeError | AttributeError | ValueError | IndexError):
        return f"malformed configuration ({name}: {exc})"
    return f"{name}: {exc}"


def _yaml_problem(exc: BaseException, source: str) -> str:
    """PyYAML's multi-line report as one line: the line and column (1-based, as editors count)
    of the problem, what it is, and where the construct it broke started; the file is named
    when ``source`` (several merged files) does not say which."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(exc).split()) or type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    name = str(getattr(mark, "name", "") or "")
    if name and not name.startswith("<") and f"kubeconfig {name}" != source.partition(" (")[0]:
        where = f"{name} {where}"
    text = f"{where}: {problem}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        started = ""
        if context_mark is not None and context_mark.line != mark.line:
            started = f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
        text += f" ({context}{started})"
    return text


def _ssl_context(config: Any, source: str, inline: _Inline | None = None) -> ssl.SSLContext | None:
    """The TLS settings of a loaded config, as kubectl applies them."""
    inline = inline or _Inline()
    host = str(getattr(config, "host", "") or "")
    if not host:
        raise ConfigError(f"{source}: the cluster has no server URL")
    if not host.startswith(("https://", "http://")):
        raise ConfigError(f"{source}: server {host!r} is not an http(s) URL")
    if host.startswith("http://"):
        return None
    ca_file = getattr(config, "ssl_ca_cert", None)
    verify = bool(getattr(config, "verify_ssl", True))
    if (ca_file or inline.ca) and not verify:
        raise ConfigError(
            f"{source}: a certificate authority together with insecure-skip-tls-verify"
            " is not allowed (kubectl refuses it too)"
        )
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=None if inline.ca else ca_file or None,
            cadata=_ca_data(inline.ca) if inline.ca else None,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        what = "certificate-authority-data" if inline.ca else ca_file
        raise ConfigError(
            f"{source}: cannot load the certificate authority {what}: {exc}"
        ) from None
    context.set_alpn_protocols(["http/1.1"])
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert_file = getattr(config, "cert_file", None)
    key_file = getattr(config, "key_file", None)
    if inline.cert or inline.key:
        cert, key = inline.cert or _file_bytes(cert_file), inline.key or _file_bytes(key_file)
        if not (cert and key):
            raise ConfigError(f"{source}: a client certificate needs both a certificate and a key")
        try:
            with _memory_files(cert, key) as (cert_path, key_path):
                context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{source}: cannot load the client certificate/key (inline data): {exc}"
            ) from None
        return context
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise ConfigError(f"{source}: a client certificate needs both a certificate and a key")
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"{source}: cannot load the client certificate/key: {exc}") from None
    return context


def _file_bytes(path: str | None) -> bytes | None:
    """A client certificate or key given as a file next to inline data of the other half."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
