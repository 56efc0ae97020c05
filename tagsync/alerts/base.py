"""What every alert channel shares: the Channel protocol, common settings, retries, redaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from tagsync.diff import ChangeSet

__all__ = [
    "Channel",
    "ChannelSettings",
    "DeliveryError",
    "PermanentFailure",
    "TransientFailure",
    "redact_url",
    "with_retries",
]

T = TypeVar("T")


class Channel(Protocol):
    """One configured alert destination."""

    @property
    def label(self) -> str:
        """How the channel is named in logs and errors (never contains a secret)."""
        ...

    def send(self, changes: ChangeSet) -> None:
        """Deliver one alert for ``changes``; raise DeliveryError when it could not."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Settings every channel has: its name, time limits and how much of a diff it shows."""

    name: str
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0
    max_prefixes: int = 20
    max_tags: int = 20


class DeliveryError(Exception):
    """A channel gave up; the message is one line and free of secrets."""


class TransientFailure(Exception):
    """A failure worth another attempt: connection trouble, a timeout, 5xx, 429, SMTP 4xx."""


class PermanentFailure(Exception):
    """A failure another attempt will not fix: 4xx, rejected credentials, bad certificate."""


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: webhook paths and queries carry tokens, user info passwords."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def with_retries(
    attempt: Callable[[], T],
    settings: ChannelSettings,
    where: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt`` up to ``retries + 1`` times with exponential backoff on transient failures.

    ``where`` must already be redacted: it ends up in the error message.
    """
    last = ""
    tries = settings.retries + 1
    for number in range(tries):
        if number:
            sleep(settings.backoff * 2 ** (number - 1))
        try:
            return attempt()
        except PermanentFailure as exc:
            raise DeliveryError(f"{settings.name}: {where}: {exc}") from None
        except TransientFailure as exc:
            last = str(exc)
    plural = "s" * (tries > 1)
    raise DeliveryError(f"{settings.name}: {where}: {last} (gave up after {tries} attempt{plural})")
