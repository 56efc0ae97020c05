"""Helpers for the alert and check tests (no tests here): real loopback peers and expectations.

Expected prefix sets are computed straight from the published JSON with json + ipaddress, never
through tagsync's own parser, so a parser or diff bug cannot hide in the expectation; expected
coverage (addresses gained and lost) comes from netaddr's IPSet arithmetic, not tagsync's sweep.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from netaddr import IPNetwork, IPSet

__all__ = [
    "MailSink",
    "coverage_document",
    "expected_change",
    "expected_coverage",
    "free_port",
    "hanging_port",
    "ipset_coverage",
    "make_certificate",
    "raw_prefixes",
    "refused_port",
    "sibling_pair",
    "smtp_server",
]


def _canonical(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix, strict=False))


def raw_prefixes(path: Path, tag: str) -> set[str]:
    """A tag's prefixes as published, read with plain json."""
    document = json.loads(path.read_bytes())
    for value in document["values"]:
        if value["name"] == tag:
            return {_canonical(p) for p in value["properties"]["addressPrefixes"]}
    return set()


def expected_change(old: Path, new: Path, tag: str) -> tuple[set[str], set[str]]:
    """(added, removed) for ``tag`` between two published files."""
    before, after = raw_prefixes(old, tag), raw_prefixes(new, tag)
    return after - before, before - after


def _family_sizes(cidrs: list[str]) -> dict[str, int]:
    sizes = {"ipv4": 0, "ipv6": 0}
    for cidr in cidrs:
        network = IPNetwork(cidr)
        sizes[f"ipv{network.version}"] += network.size
    return sizes


def ipset_coverage(old: set[str], new: set[str]) -> dict[str, Any]:
    """The "coverage" document for one tag, computed with netaddr IPSet differences."""
    return coverage_document(IPSet(old), IPSet(new))


def coverage_document(before: IPSet, after: IPSet) -> dict[str, Any]:
    """The "coverage" document between two IPSets of one tag."""
    gained = [str(cidr) for cidr in (after - before).iter_cidrs()]
    lost = [str(cidr) for cidr in (before - after).iter_cidrs()]
    return {
        "gained": gained,
        "lost": lost,
        "gained_addresses": _family_sizes(gained),
        "lost_addresses": _family_sizes(lost),
    }


def expected_coverage(old: Path, new: Path, tag: str) -> dict[str, Any]:
    """The "coverage" document for ``tag`` between two published files."""
    return ipset_coverage(raw_prefixes(old, tag), raw_prefixes(new, tag))


def sibling_pair(prefixes: tuple[str, ...], version: int) -> tuple[str, str, str]:
    """Two real adjacent halves of one network among ``prefixes`` whose parent is not listed:
    (low half, high half, parent), for building a re-aggregation out of real data."""
    listed = set(prefixes)
    for prefix in sorted(listed):
        network = ipaddress.ip_network(prefix)
        if network.version != version or network.prefixlen == 0:
            continue
        parent = network.supernet()
        low, high = (str(half) for half in parent.subnets())
        if low == prefix and high in listed and str(parent) not in listed:
            return low, high, str(parent)
    raise AssertionError(f"no sibling pair of IPv{version} prefixes")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def refused_port() -> Iterator[int]:
    """A port that is bound but not listening: connecting to it is refused at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextmanager
def hanging_port() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers: reads time out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), to test STARTTLS for real."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tagsync test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class MailSink:
    """An aiosmtpd handler that keeps every message; ``replies`` answers the next DATA commands
    with an error first (e.g. a temporary "451")."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    data_commands: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    password: str = "s3cret-smtp-pass"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self.replies:
            return self.replies.pop(0)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((login, password))
            return AuthResult(success=password == self.password, handled=False)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(sink: MailSink, *, certificate: tuple[Path, Path] | None = None) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1 (with STARTTLS required and AUTH when given a certificate)."""
    kwargs: dict[str, Any] = {}
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        kwargs = {
            "tls_context": context,
            "require_starttls": True,
            "authenticator": sink.authenticate,
            "auth_require_tls": True,
        }
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
