"""Validate the ``alerts`` config section into channels (secrets resolved from the environment).

Example::

    alerts:
      - type: slack
        url_env: TAGSYNC_SLACK_URL        # the variable's name, never the URL itself
      - type: email
        host: smtp.example.com
        from: tagsync@example.com
        to: [netops@example.com]
        username: tagsync
        password_env: TAGSYNC_SMTP_PASSWORD
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from tagsync.alerts.base import Channel, ChannelSettings, redact_url
from tagsync.alerts.mail import SECURITY_MODES, MailChannel
from tagsync.alerts.slack import SlackChannel
from tagsync.alerts.teams import TeamsChannel
from tagsync.alerts.webhook import WebhookChannel
from tagsync.config import require_environment, secret_from_env
from tagsync.errors import ConfigError, MissingSecretError

__all__ = ["CHANNEL_TYPES", "load_channels"]

_COMMON = {"type", "name", "timeout", "retries", "backoff", "max_prefixes", "max_tags"}
_URL_KEYS = {"url", "url_env"}
_MAIL_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "from",
    "to",
    "subject_prefix",
    "ca_file",
}
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class _Reader:
    """Typed access to one channel mapping, with errors naming where in the config it is."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw, self.where = raw, where

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: {problem}")

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(f"{key} must be a non-empty string")
        if value is not None and ("\n" in value or "\r" in value):
            raise self.fail(f"{key} must be a single line")
        return value

    def number(self, key: str, default: float, minimum: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.fail(f"{key} must be a number >= {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{key} must be a whole number >= {minimum}")
        return value

    def secret(self, key: str) -> str | None:
        """The value of the environment variable named by ``key``, if the key is set."""
        variable = self.string(key)
        return None if variable is None else secret_from_env(variable, f"{self.where}: {key}")


def _settings(reader: _Reader, kind: str) -> ChannelSettings:
    return ChannelSettings(
        name=reader.string("name") or kind,
        timeout=reader.number("timeout", 10.0, 0.1),
        retries=reader.integer("retries", 2, 0),
        backoff=reader.number("backoff", 1.0, 0),
        max_prefixes=reader.integer("max_prefixes", 20, 0),
        max_tags=reader.integer("max_tags", 20, 1),
    )


def _url(reader: _Reader) -> str:
    given = [key for key in ("url", "url_env") if key in reader.raw]
    if len(given) != 1:
        raise reader.fail("give exactly one of url or url_env (the variable holding the URL)")
    url = reader.secret("url_env") if given == ["url_env"] else reader.string("url")
    assert url is not None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        # Only the redacted form: the URL may carry a token.
        raise reader.fail(f"{given[0]}: not an http(s) URL ({redact_url(url)})")
    return url


def _webhook(reader: _Reader, settings: ChannelSettings) -> Channel:
    headers_raw = reader.raw.get("headers_env", {})
    if not isinstance(headers_raw, dict):
        raise reader.fail("headers_env must map header names to environment variable names")
    headers: dict[str, str] = {}
    for name, variable in headers_raw.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise reader.fail(f"headers_env: invalid header name {name!r}")
        if not isinstance(variable, str) or not variable:
            raise reader.fail(f"headers_env.{name} must name an environment variable")
        value = secret_from_env(variable, f"{reader.where}: headers_env.{name}")
        if "\n" in value or "\r" in value:
            raise reader.fail(f"headers_env.{name}: the variable's value spans lines")
        headers[name] = value
    return WebhookChannel(settings, _url(reader), headers)


def _addresses(reader: _Reader, key: str) -> tuple[str, ...]:
    value = reader.raw.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise reader.fail(f"{key} must be an address or a non-empty list of addresses")
    for address in values:
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise reader.fail(f"{key}: {address!r} is not a plain address like ops@example.com")
    return tuple(values)


def _mail(reader: _Reader, settings: ChannelSettings) -> Channel:
    security = reader.string("security", "starttls")
    if security not in SECURITY_MODES:
        raise reader.fail(f"security must be one of {', '.join(SECURITY_MODES)}")
    host = reader.string("host")
    if host is None:
        raise reader.fail("host is required")
    username = reader.string("username")
    if (username is None) != ("password_env" not in reader.raw):
        raise reader.fail("username and password_env go together")
    if username is not None and security == "none":
        raise reader.fail("refusing to send the SMTP password without TLS (security: starttls)")
    return MailChannel(
        settings,
        host=host,
        port=reader.integer("port", _DEFAULT_PORTS[security], 1),
        sender=_addresses(reader, "from")[0],
        recipients=_addresses(reader, "to"),
        security=security,
        username=username,
        password=reader.secret("password_env"),
        ca_file=reader.string("ca_file"),
        subject_prefix=reader.string("subject_prefix", "[tagsync]") or "",
    )


_Builder = Callable[[_Reader, ChannelSettings], Channel]
CHANNEL_TYPES: dict[str, tuple[frozenset[str], _Builder]] = {
    "webhook": (frozenset(_URL_KEYS | {"headers_env"}), _webhook),
    "slack": (frozenset(_URL_KEYS), lambda r, s: SlackChannel(s, _url(r))),
    "teams": (frozenset(_URL_KEYS), lambda r, s: TeamsChannel(s, _url(r))),
    "email": (frozenset(_MAIL_KEYS), _mail),
}


def load_channels(section: Any, where: str = "config") -> list[Channel]:
    """Build the channels of an ``alerts`` section (None or [] means no alerts)."""
    if section is None:
        return []
    if not isinstance(section, list):
        raise ConfigError(f"{where}: alerts must be a list of channels")
    channels: list[Channel] = []
    names: set[str] = set()
    for index, raw in enumerate(section):
        place = f"{where}: alerts[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{place} must be a mapping with a type")
        kind = raw.get("type")
        if kind not in CHANNEL_TYPES:
            raise ConfigError(f"{place}: type must be one of {', '.join(CHANNEL_TYPES)}")
        allowed, build = CHANNEL_TYPES[kind]
        unknown = set(raw) - _COMMON - allowed
        if unknown:
            raise ConfigError(f"{place}: unknown keys {', '.join(sorted(map(str, unknown)))}")
        reader = _Reader(raw, f"{place} ({kind})")
        settings = _settings(reader, kind)
        if settings.name in names:
            if "name" in raw:
                raise reader.fail(f"another channel is already named {settings.name!r}")
            settings = replace(settings, name=f"{kind}-{index}")
        names.add(settings.name)
        try:
            channels.append(build(reader, settings))
        except MissingSecretError:
            require_environment(section, where, "alerts")  # names every missing one, not one
            raise
    return channels
