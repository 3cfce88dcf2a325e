"""TLS for the kubelet port: the server context, the peer's identity, the ASGI ``tls`` extension.

The context follows the kubelet's: TLS 1.2 or later, ECDHE key exchange with AES-GCM or
ChaCha20 for TLS 1.2 (the CBC-SHA1 suites the Go code also lists are left out), ALPN ``h2`` and
``http/1.1``.  With a client CA, certificates are *verified if presented* (``CERT_OPTIONAL``):
a certificate from another CA fails the handshake, while a client with no certificate may still
connect and authenticate with a bearer token.  Without a CA no certificate is requested at all
(Python cannot ask for one without verifying it), so every caller is anonymous.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from ._http import PeerIdentity

__all__ = ["TLS12_CIPHERS", "peer_identity", "server_ssl_context", "tls_extension"]

TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def server_ssl_context(
    cert_file: str, key_file: str, client_ca_file: str | None = None
) -> ssl.SSLContext:
    """The serving context; raises :class:`OSError`/:class:`ssl.SSLError` if the files do not
    load (the server refuses to start without its certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["h2", "http/1.1"])
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def peer_identity(ssl_object: Any) -> PeerIdentity | None:
    """CN and O values of the verified client certificate (``None`` without one).

    ``ssl_object`` is anything with ``getpeercert()`` (``trio.SSLStream``, ``ssl.SSLObject``);
    Python only returns the parsed subject for a certificate it verified.
    """
    try:
        cert = ssl_object.getpeercert()
    except (ValueError, AttributeError):
        return None
    if not cert:
        return None
    common_name = ""
    organizations: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                # The last CN wins, as in Go's pkix.Name (a CA that lets a requester add a
                # leading CN must not let it pick the user name).
                common_name = value
            elif key == "organizationName":
                organizations.append(value)
    if not common_name:
        return None
    return PeerIdentity(common_name, tuple(organizations))


def _rfc4514(cert: dict[str, Any]) -> str | None:
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
    parts = []
    for rdn in reversed(cert.get("subject", ())):
        for key, value in rdn:
            escaped = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
            parts.append(f"{short.get(key, key)}={escaped}")
    return ",".join(parts) or None


def tls_extension(ssl_object: Any, peer: PeerIdentity | None) -> dict[str, Any]:
    """The ASGI ``tls`` scope extension for a connection, plus ``vk_trio.peer`` (the parsed
    identity the auth layer uses, so nothing has to re-parse the certificate)."""
    cert: dict[str, Any] = {}
    der: bytes | None = None
    try:
        cert = ssl_object.getpeercert() or {}
        der = ssl_object.getpeercert(binary_form=True)
    except (ValueError, AttributeError):
        pass
    version = None
    with contextlib.suppress(AttributeError):
        version = _TLS_VERSIONS.get(ssl_object.version() or "")
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": _rfc4514(cert) if cert else None,
        "client_cert_error": None,
        "tls_version": version,
        "cipher_suite": None,
        "vk_trio.peer": peer,
    }
