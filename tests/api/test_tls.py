"""TLS: the server context's settings, the peer identity and the ASGI ``tls`` extension."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import trio

from vk_trio.api import PeerIdentity, server_ssl_context
from vk_trio.api._tls import peer_identity, tls_extension

from ._support import tls_files


class FakeSSL:
    def __init__(self, cert: dict[str, Any] | None, der: bytes | None = None) -> None:
        self._cert = cert
        self._der = der

    def getpeercert(self, binary_form: bool = False) -> Any:
        return self._der if binary_form else self._cert

    def version(self) -> str:
        return "TLSv1.3"


SUBJECT = {
    "subject": (
        (("organizationName", "system:masters"),),
        (("organizationName", "ops, west"),),
        (("commonName", "kube-apiserver-kubelet-client"),),
    )
}


def test_peer_identity_takes_cn_and_every_o() -> None:
    assert peer_identity(FakeSSL(SUBJECT)) == PeerIdentity(
        "kube-apiserver-kubelet-client", ("system:masters", "ops, west")
    )
    assert peer_identity(FakeSSL(None)) is None
    assert peer_identity(FakeSSL({})) is None
    no_cn = {"subject": ((("organizationName", "x"),),)}
    assert peer_identity(FakeSSL(no_cn)) is None
    assert peer_identity(object()) is None


def test_the_last_common_name_wins_as_in_go() -> None:
    # Go's pkix.Name keeps the last CN of the subject; a CA that lets a requester put a CN of
    # its choosing first must not let it choose the user (finding 9 of issue 13).
    two = {
        "subject": (
            (("commonName", "system:admin"),),
            (("organizationName", "devs"),),
            (("commonName", "alice"),),
        )
    }
    assert peer_identity(FakeSSL(two)) == PeerIdentity("alice", ("devs",))


def test_tls_extension_fields() -> None:
    peer = PeerIdentity("u")
    extension = tls_extension(FakeSSL(SUBJECT, der=b"\x30\x03\x02\x01\x01"), peer)
    assert extension["client_cert_name"] == (
        "CN=kube-apiserver-kubelet-client,O=ops\\, west,O=system:masters"
    )
    assert extension["client_cert_chain"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert extension["tls_version"] == 0x0304
    assert extension["vk_trio.peer"] is peer
    empty = tls_extension(FakeSSL(None), None)
    assert (empty["client_cert_chain"], empty["client_cert_name"]) == ([], None)


def test_context_settings(tmp_path: Path) -> None:
    with tls_files(tmp_path) as files:
        plain = server_ssl_context(files.cert_file, files.key_file)
        assert plain.minimum_version == ssl.TLSVersion.TLSv1_2
        assert plain.verify_mode == ssl.CERT_NONE
        ciphers = {c["name"] for c in plain.get_ciphers() if c["protocol"] == "TLSv1.2"}
        assert ciphers == {
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-CHACHA20-POLY1305",
        }
        verifying = server_ssl_context(files.cert_file, files.key_file, files.ca_file)
        assert verifying.verify_mode == ssl.CERT_OPTIONAL


async def test_alpn_offers_h2_and_http11(tmp_path: Path) -> None:
    with tls_files(tmp_path) as files:
        server_context = server_ssl_context(files.cert_file, files.key_file, files.ca_file)
        for offered, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
            client_context = files.client_context("alice", ["devs"], alpn=offered)
            a, b = trio.testing.memory_stream_pair()
            client = trio.SSLStream(a, client_context, server_hostname="127.0.0.1")
            server = trio.SSLStream(b, server_context, server_side=True)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.do_handshake)
                nursery.start_soon(server.do_handshake)
            assert server.selected_alpn_protocol() == chosen
            assert peer_identity(server) == PeerIdentity("alice", ("devs",))
