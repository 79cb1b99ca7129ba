"""Certificates made in the test (`cryptography`) and real TLS servers on loopback serving them.

`Authority` is a CA that signs leaf certificates for any name and validity; its PEM file is
what the probe under test trusts (`TlsProbe(cafile=…)`), standing in for the system store.
`TlsServer` is an asyncio TLS server on 127.0.0.1 whose certificate can be swapped between
handshakes (`serve`), which is how a test renews a certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Leaf:
    """A server certificate with its key, as files ready for `load_cert_chain`."""

    cert_file: Path
    key_file: Path
    not_after: datetime


class Authority:
    """A certificate authority made for one test, writing its files under `directory`."""

    def __init__(self, directory: Path, name: str = "Opsroom Test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=365))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.count = 0
        self.cafile = directory / f"{name.replace(' ', '-')}.pem"
        self.cafile.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        host: str = "localhost",
        *,
        valid_for: timedelta | None = None,
        not_after: datetime | None = None,
    ) -> Leaf:
        """A leaf for `host` ending `valid_for` from now (or at `not_after`)."""
        now = datetime.now(UTC)
        end = not_after or now + (valid_for or timedelta(days=90))
        start = min(now, end) - timedelta(days=30)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.count += 1
        stem = self.directory / f"{self.cafile.stem}-leaf-{self.count}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_pem_key(key))
        # Seconds are what a certificate stores.
        return Leaf(cert_file, key_file, end.replace(microsecond=0))


def server_context(leaf: Leaf) -> ssl.SSLContext:
    """A server-side context presenting `leaf`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.cert_file, leaf.key_file)
    return context


class TlsServer:
    """A TLS server on loopback answering handshakes with the certificate it serves now."""

    def __init__(self, leaf: Leaf) -> None:
        self.current = server_context(leaf)
        self.handshakes = 0
        self.port = 0

    def serve(self, leaf: Leaf) -> None:
        """Present `leaf` from the next handshake on (a renewal)."""
        self.current = server_context(leaf)

    def _pick(self, sslobj: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        sslobj.context = self.current

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def tls_server(leaf: Leaf, *, port: int = 0) -> AsyncIterator[TlsServer]:
    """Run a `TlsServer` for `leaf` on 127.0.0.1 (`port`, else an ephemeral one) while the
    block runs."""
    server = TlsServer(leaf)
    front = server_context(leaf)
    front.sni_callback = server._pick  # type: ignore[assignment]
    listening = await asyncio.start_server(
        server._answer, "127.0.0.1", port, ssl=front, reuse_address=True
    )
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listening.wait_closed(), 5)
