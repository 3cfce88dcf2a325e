"""Fixtures for the command's tests: serving certificates, a mock config, a complete environment."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

NODE = "vk-test"


class Files:
    """Paths of the files a valid start needs."""

    def __init__(self, root: Path) -> None:
        ca = trustme.CA()
        other_ca = trustme.CA()
        cert = ca.issue_cert("vk-test.example")
        other = ca.issue_cert("other.example")
        self.root = root
        self.cert = root / "tls.crt"
        self.key = root / "tls.key"
        self.other_key = root / "other.key"
        self.ca = root / "ca.crt"
        self.other_ca = root / "other-ca.crt"
        self.not_pem = root / "not.pem"
        self.mock_config = root / "mock.json"
        self.kubeconfig = root / "kubeconfig"
        cert.cert_chain_pems[0].write_to_path(str(self.cert))
        cert.private_key_pem.write_to_path(str(self.key))
        other.private_key_pem.write_to_path(str(self.other_key))
        ca.cert_pem.write_to_path(str(self.ca))
        other_ca.cert_pem.write_to_path(str(self.other_ca))
        self.not_pem.write_text("hello\n")
        self.mock_config.write_text(f'{{"{NODE}": {{"cpu": "2", "memory": "4Gi", "pods": "10"}}}}')
        self.kubeconfig.write_text("apiVersion: v1\nkind: Config\n")

    def env(self) -> dict[str, str]:
        return {
            "APISERVER_CERT_LOCATION": str(self.cert),
            "APISERVER_KEY_LOCATION": str(self.key),
        }

    def argv(self) -> list[str]:
        return [
            "--provider",
            "mock",
            "--provider-config",
            str(self.mock_config),
            "--nodename",
            NODE,
        ]


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("cli-files"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``configure_logging`` changes the root logger; put it back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "hpack")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, value in noisy.items():
        logging.getLogger(name).setLevel(value)
