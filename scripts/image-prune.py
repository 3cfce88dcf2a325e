"""Prune the image's virtualenv to what vk-trio loads at run time (run by the Dockerfile's build
stage with the virtualenv's own interpreter, while pip is still in it).

* The ``kubernetes`` distribution carries a second, asyncio client (``kubernetes.aio``, about
  40 MB of source).  vk-trio uses only ``kubernetes.config`` (and the ``Configuration`` class
  it fills): the asyncio client goes.
* Tests shipped inside packages, and every byte-code cache pip wrote, go.
* Byte code is then written once, for exactly the modules the process imports (and all of
  vk-trio), with unchecked hashes: the read-only root filesystem could not keep a cache that
  Python writes at start-up, and compiling all of ``kubernetes.client`` (thousands of modules
  vk-trio never imports) would double its size for nothing.

Prints what it removed and the size of the result.
"""

from __future__ import annotations

import importlib
import pkgutil
import py_compile
import shutil
import sys
import sysconfig
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"])
PREFIX = Path(sys.prefix)

#: What the process imports: every vk-trio module, the shipped provider, the parts of the
#: kubernetes package the kubeconfig loader uses, and the tracing SDK when tracing is on.
RUNTIME_IMPORTS = (
    "vk_trio_mock",
    "kubernetes.config",
    "kubernetes.config.kube_config",
    "kubernetes.config.incluster_config",
    "kubernetes.config.exec_provider",
    "kubernetes.client",
    # --trace-exporter otlp (the otlp extra): what vk_trio.tracing imports when it is on
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.trace.sampling",
    "opentelemetry.sdk.resources",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def drop_asyncio_client() -> None:
    """The files of ``kubernetes.aio``; aiohttp and its helpers stay installed (not compiled:
    never imported), so that pip, resolving a derived image's provider against vk-trio's
    requirements, finds the environment consistent and installs nothing twice."""
    aio = SITE / "kubernetes" / "aio"
    if aio.is_dir():
        print(f"removed kubernetes/aio ({size(aio) / 1e6:.1f} MB)")
        shutil.rmtree(aio)


def drop_tests_and_caches() -> None:
    for path in sorted(SITE.rglob("*"), reverse=True):
        if path.is_dir() and (
            path.name == "__pycache__" or path.name in ("tests", "test", "_tests")
        ):
            shutil.rmtree(path)
    for path in PREFIX.rglob("__pycache__"):
        shutil.rmtree(path, ignore_errors=True)


def compile_runtime_modules() -> None:
    sys.dont_write_bytecode = True
    import vk_trio  # noqa: PLC0415

    names = [m.name for m in pkgutil.walk_packages(vk_trio.__path__, "vk_trio.")]
    for name in (*names, *RUNTIME_IMPORTS):
        try:
            importlib.import_module(name)
        except ImportError as exc:  # optional extras (e.g. a test-only WebSocket peer)
            print(f"not compiled (optional): {name}: {exc}")
    files = {
        Path(module.__file__)
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and str(module.__file__).startswith(str(PREFIX))
    }
    files |= set((SITE / "vk_trio").rglob("*.py")) | set((SITE / "vk_trio_mock").rglob("*.py"))
    for file in sorted(f for f in files if f.suffix == ".py"):
        py_compile.compile(
            str(file), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    print(f"compiled {len(files)} modules")


def main() -> None:
    before = size(PREFIX)
    drop_asyncio_client()
    drop_tests_and_caches()
    compile_runtime_modules()
    print(f"/opt/vk-trio: {before / 1e6:.0f} MB -> {size(PREFIX) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
