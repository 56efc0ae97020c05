"""Email alerts against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS + AUTH, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import public
from test_alert_support import (
    MailSink,
    expected_coverage,
    hanging_port,
    make_certificate,
    refused_port,
    smtp_server,
)

from tagsync.alerts.base import ChannelSettings, DeliveryError
from tagsync.alerts.mail import MailChannel
from tagsync.diff import ChangeSet, diff_service_tags
from tagsync.model import parse_service_tags

ATP = "AzureAdvancedThreatProtection"
FRONT_DOOR = "AzureFrontDoor.Backend"
FAST = ChannelSettings(name="mail", timeout=3, retries=2, backoff=0, max_prefixes=10)


@pytest.fixture(scope="module")
def versions() -> tuple[Path, Path]:
    return public("20250728"), public("20251006")


@pytest.fixture(scope="module")
def changes(versions: tuple[Path, Path]) -> ChangeSet:
    old, new = (parse_service_tags(p.read_bytes(), source=str(p)) for p in versions)
    return diff_service_tags(old, new, [ATP, FRONT_DOOR])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sink() -> MailSink:
    return MailSink()


@pytest.fixture
def plain_port(sink: MailSink) -> Iterator[int]:
    with smtp_server(sink) as port:
        yield port


def channel(port: int, **overrides: object) -> MailChannel:
    values: dict[str, object] = {
        "settings": FAST,
        "host": "127.0.0.1",
        "port": port,
        "sender": "tagsync@example.test",
        "recipients": ("netops@example.test", "sec@example.test"),
        "security": "none",
    }
    values.update(overrides)
    return MailChannel(**values)  # type: ignore[arg-type]


def test_plain_mail_headers_and_both_bodies(
    sink: MailSink, plain_port: int, changes: ChangeSet, versions: tuple[Path, Path]
) -> None:
    channel(plain_port).send(changes)

    ((mail_from, rcpt_tos, message),) = sink.messages
    assert mail_from == "tagsync@example.test"
    assert rcpt_tos == ["netops@example.test", "sec@example.test"]
    assert message["From"] == "tagsync@example.test"
    assert message["To"] == "netops@example.test, sec@example.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.test>")
    subject = message["Subject"]
    assert subject.startswith("[tagsync] Public changeNumber 364 → 372")
    assert (
        f"+{changes.gained_count} CIDRs now reachable, −{changes.lost_count} no longer reachable"
        in subject
    )
    assert message.get_content_type() == "multipart/alternative"
    plain, markdown = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert markdown.get_content_type() == "text/markdown"
    assert markdown.get_param("variant") == "CommonMark"
    # SMTP carries CRLF line ends; compare lines the way a reader sees them.
    text, md = (part.get_content().replace("\r\n", "\n") for part in (plain, markdown))

    coverage = expected_coverage(*versions, ATP)
    for cidr in coverage["gained"]:
        assert f"  + {cidr}" in text and f"- `{cidr}`" in md
    for cidr in coverage["lost"]:
        assert f"  - {cidr}" in text and f"- `{cidr}`" in md
    gained = coverage["gained_addresses"]
    assert f"{ATP} (tag changeNumber 33 → 35): gained {gained['ipv4']} IPv4 + " in text
    assert f"in {len(coverage['gained'])} CIDRs, lost " in text
    fd_gained = expected_coverage(*versions, FRONT_DOOR)["gained"]
    hidden = len(fd_gained) - FAST.max_prefixes
    assert f"  + … and {hidden} more" in text and f"- … and {hidden} more" in md
    assert sum(f"  + {cidr}\n" in text for cidr in fd_gained) == FAST.max_prefixes
    assert "Allow the newly reachable CIDRs" in text
    assert md.startswith("# Azure service tags changed: Public changeNumber 364 → 372")


def test_starttls_and_login(
    sink: MailSink, certificate: tuple[Path, Path], changes: ChangeSet
) -> None:
    with smtp_server(sink, certificate=certificate) as port:
        channel(
            port,
            security="starttls",
            username="tagsync",
            password=sink.password,
            ca_file=str(certificate[0]),
        ).send(changes)
    assert sink.logins == [("tagsync", sink.password)]
    assert len(sink.messages) == 1


def test_wrong_password_is_not_retried_and_not_echoed(
    sink: MailSink, certificate: tuple[Path, Path], changes: ChangeSet
) -> None:
    with smtp_server(sink, certificate=certificate) as port, pytest.raises(DeliveryError) as caught:
        channel(
            port,
            security="starttls",
            username="tagsync",
            password="wrong-Pa55word",
            ca_file=str(certificate[0]),
        ).send(changes)
    assert "login refused" in str(caught.value)
    assert "wrong-Pa55word" not in str(caught.value)
    # One attempt (smtplib tries each offered mechanism once: PLAIN, LOGIN), no retries.
    assert 1 <= len(sink.logins) <= 2 and not sink.messages


def test_untrusted_certificate_fails(
    sink: MailSink, certificate: tuple[Path, Path], changes: ChangeSet
) -> None:
    with smtp_server(sink, certificate=certificate) as port, pytest.raises(DeliveryError) as caught:
        channel(port, security="starttls").send(changes)  # system CAs only
    assert "certificate verification failed" in str(caught.value)
    assert not sink.messages


def test_starttls_required_but_not_offered(
    sink: MailSink, plain_port: int, changes: ChangeSet
) -> None:
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        channel(plain_port, security="starttls").send(changes)
    assert not sink.messages


def test_temporary_451_is_retried(sink: MailSink, plain_port: int, changes: ChangeSet) -> None:
    sink.replies = ["451 4.3.0 try again later"]
    channel(plain_port).send(changes)
    assert sink.data_commands == 2 and len(sink.messages) == 1


def test_permanent_554_is_not_retried(sink: MailSink, plain_port: int, changes: ChangeSet) -> None:
    sink.replies = ["554 5.7.1 rejected"] * 3
    with pytest.raises(DeliveryError, match="SMTP 554"):
        channel(plain_port).send(changes)
    assert sink.data_commands == 1


def test_connection_refused(changes: ChangeSet) -> None:
    with refused_port() as port, pytest.raises(DeliveryError) as caught:
        channel(port).send(changes)
    assert "connection refused" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)


def test_silent_server_times_out(changes: ChangeSet) -> None:
    settings = ChannelSettings(name="mail", timeout=0.3, retries=1, backoff=0)
    with hanging_port() as port, pytest.raises(DeliveryError) as caught:
        channel(port, settings=settings).send(changes)
    assert "timed out" in str(caught.value) and "2 attempts" in str(caught.value)
