"""The certificate watch's TLS handshake: stdlib `socket` and `ssl`, in a worker thread.

A check resolves the name, refuses it if any address is loopback, link-local, private or
otherwise not global (unless `OPSROOM_WATCH_ALLOW_PRIVATE=true`), then connects to the
resolved address itself (so a second lookup cannot swap in another one) and performs a
verifying handshake: the system trust store, the host name checked against the
certificate. `notAfter` is read from the verified certificate. Blocking work stays off the
event loop (`asyncio.to_thread`) and every step has a timeout.

`cafile` replaces the system trust store with one file; only tests set it, to trust the
authority they made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from datetime import UTC, datetime

from bot.core.certs import CertCheck, Problem

TIMEOUT = 10.0  # seconds for the lookup, connect and handshake, each
MAX_ADDRESSES = 3  # tried in the resolver's order until one answers

_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH


def is_private(address: str) -> bool:
    """Whether an address is one Opsroom may not probe by default (anything not global)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class TlsProbe:
    """`CertificateProbe` over real sockets."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = TIMEOUT,
        cafile: str | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.cafile = cafile

    async def check(self, host: str, port: int) -> CertCheck:
        """One check, off the event loop, bounded in time."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._check, host, port), self.timeout * 3
            )
        except TimeoutError:
            return CertCheck(None, Problem.UNREACHABLE, f"no answer within {self.timeout * 3:.0f}s")

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _check(self, host: str, port: int) -> CertCheck:
        """The blocking check (runs in a worker thread)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return CertCheck(None, Problem.UNREACHABLE, f"{host} does not resolve ({exc})")
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            private = [a for a in addresses if is_private(a)]
            if private:
                return CertCheck(
                    None,
                    Problem.REFUSED,
                    f"{host} resolves to {private[0]}, a loopback, link-local or private "
                    "address, which Opsroom does not check (OPSROOM_WATCH_ALLOW_PRIVATE)",
                )
        failure = CertCheck(None, Problem.UNREACHABLE, f"{host}:{port} has no address")
        for address in addresses[:MAX_ADDRESSES]:
            try:
                return self._handshake(host, address, port)
            except OSError as exc:  # refused, reset, timed out: try the next address
                reason = exc.strerror or str(exc) or type(exc).__name__
                failure = CertCheck(None, Problem.UNREACHABLE, f"{address}:{port}: {reason}")
        return failure

    def _handshake(self, host: str, address: str, port: int) -> CertCheck:
        with socket.create_connection((address, port), timeout=self.timeout) as raw:
            try:
                with self._context().wrap_socket(raw, server_hostname=host) as tls:
                    cert = tls.getpeercert()
            except ssl.SSLCertVerificationError as exc:
                return _verification_failure(host, exc)
            except ssl.SSLError as exc:
                return CertCheck(None, Problem.UNREACHABLE, f"TLS handshake failed: {exc.reason}")
        not_after = cert.get("notAfter") if cert else None
        if not isinstance(not_after, str):
            return CertCheck(None, Problem.UNTRUSTED, "the server sent no certificate")
        moment = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)
        return CertCheck(moment)


def _verification_failure(host: str, exc: ssl.SSLCertVerificationError) -> CertCheck:
    """Expired, wrong name, or (anything else the chain fails on) untrusted."""
    message = exc.verify_message or exc.reason or str(exc)
    if exc.verify_code == _EXPIRED:
        return CertCheck(None, Problem.EXPIRED, f"the certificate has expired ({message})")
    if exc.verify_code == _HOSTNAME_MISMATCH:
        return CertCheck(None, Problem.WRONG_NAME, f"the certificate is not for {host}")
    return CertCheck(None, Problem.UNTRUSTED, f"the chain does not verify: {message}")
