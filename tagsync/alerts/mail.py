"""Email over SMTP: STARTTLS (default), implicit TLS or plain; optional login; text + Markdown.

The body is multipart/alternative: text/plain first, then text/markdown (RFC 7763), so clients
that cannot show Markdown fall back to the plain part.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tagsync.alerts.base import ChannelSettings, PermanentFailure, TransientFailure, with_retries
from tagsync.alerts.summary import markdown_text, plain_text, summarize
from tagsync.diff import ChangeSet
from tagsync.words import counted

__all__ = ["SECURITY_MODES", "MailChannel"]

SECURITY_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True, slots=True)
class MailChannel:
    settings: ChannelSettings
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    subject_prefix: str = "[tagsync]"

    @property
    def label(self) -> str:
        return f"{self.settings.name} (email smtp://{self.host}:{self.port})"

    def message(self, changes: ChangeSet) -> EmailMessage:
        summary = summarize(
            changes, max_prefixes=self.settings.max_prefixes, max_tags=self.settings.max_tags
        )
        message = EmailMessage()
        message["Subject"] = (
            f"{self.subject_prefix} {summary.cloud} {summary.change_numbers}: {summary.headline}"
        ).strip()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid("tagsync", domain=self.sender.rpartition("@")[2])
        # RFC 3834: tells auto-responders (vacation replies) not to answer a cron job.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(plain_text(summary), cte="quoted-printable")
        message.add_alternative(
            markdown_text(summary),
            subtype="markdown",
            params={"variant": "CommonMark"},
            cte="quoted-printable",
        )
        return message

    def _deliver(self, message: EmailMessage) -> None:
        context = None
        if self.security != "none":
            context = ssl.create_default_context(cafile=self.ca_file)
        timeout = self.settings.timeout
        client: smtplib.SMTP
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if self.username is not None and self.password is not None:
                client.login(self.username, self.password)
            refused = client.send_message(
                message, from_addr=self.sender, to_addrs=list(self.recipients)
            )
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
        finally:
            # Not ``with client``: its QUIT on the way out could replace the real error.
            client.close()
        if refused:
            total = counted(len(self.recipients), "recipient")
            raise PermanentFailure(f"{len(refused)} of {total} refused")

    def _attempt(self, message: EmailMessage) -> None:
        # Server replies are reduced to their code: they are untrusted, multi-line text.
        try:
            self._deliver(message)
        except smtplib.SMTPNotSupportedError:
            raise PermanentFailure("the server does not offer STARTTLS") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(f"SMTP {exc.smtp_code}: login refused") from None
        except smtplib.SMTPRecipientsRefused:
            raise PermanentFailure("every recipient was refused") from None
        except smtplib.SMTPResponseException as exc:
            failure = TransientFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
            raise failure(f"SMTP {exc.smtp_code}") from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a read timeout as a disconnect ("... closed: timed out").
            reason = "timed out" if "timed out" in str(exc) else "the server closed the connection"
            raise TransientFailure(reason) from None
        except ssl.SSLCertVerificationError:
            raise PermanentFailure("TLS certificate verification failed") from None
        except ssl.SSLError:
            raise PermanentFailure("TLS handshake failed") from None
        except smtplib.SMTPException as exc:
            raise PermanentFailure(type(exc).__name__) from None
        except TimeoutError:
            raise TransientFailure("timed out") from None
        except ConnectionRefusedError:
            raise TransientFailure("connection refused") from None
        except OSError as exc:
            raise TransientFailure(exc.strerror or type(exc).__name__) from None

    def send(self, changes: ChangeSet) -> None:
        message = self.message(changes)
        with_retries(
            lambda: self._attempt(message), self.settings, f"smtp://{self.host}:{self.port}"
        )
