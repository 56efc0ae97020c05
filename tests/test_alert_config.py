"""The ``alerts`` config section: validation, secrets from the environment, one-line errors."""

from __future__ import annotations

from typing import Any

import pytest

from tagsync.alerts import load_channels
from tagsync.alerts.mail import MailChannel
from tagsync.alerts.slack import SlackChannel
from tagsync.alerts.teams import TeamsChannel
from tagsync.alerts.webhook import WebhookChannel
from tagsync.errors import ConfigError

SECRET_URL = "https://hooks.slack.com/services/T1/B2/sEcReT-tOkEn"


def test_no_section_means_no_channels() -> None:
    assert load_channels(None) == []
    assert load_channels([]) == []


def test_channels_with_secrets_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "https://example.test/hook/abc")
    monkeypatch.setenv("HOOK_AUTH", "Bearer xyz")
    monkeypatch.setenv("SLACK", SECRET_URL)
    monkeypatch.setenv("TEAMS", "https://example.test/workflows/1")
    monkeypatch.setenv("SMTP_PW", "pw")
    section: list[dict[str, Any]] = [
        {"type": "webhook", "url_env": "HOOK", "headers_env": {"Authorization": "HOOK_AUTH"}},
        {"type": "slack", "url_env": "SLACK", "max_prefixes": 5, "retries": 0, "timeout": 3},
        {"type": "teams", "url_env": "TEAMS", "name": "ops-teams"},
        {"type": "slack", "url": "https://example.test/other"},
        {
            "type": "email",
            "host": "smtp.example.test",
            "from": "tagsync@example.test",
            "to": "ops@example.test",
            "username": "tagsync",
            "password_env": "SMTP_PW",
        },
    ]
    webhook, slack, teams, slack2, mail = load_channels(section, "cfg.yaml")
    assert isinstance(webhook, WebhookChannel) and webhook.headers == {
        "Authorization": "Bearer xyz"
    }
    assert isinstance(slack, SlackChannel) and slack.url == SECRET_URL
    assert (slack.settings.max_prefixes, slack.settings.retries, slack.settings.timeout) == (
        5,
        0,
        3,
    )
    assert isinstance(teams, TeamsChannel) and teams.settings.name == "ops-teams"
    assert slack2.label.startswith("slack-3 ")  # default names stay unique
    assert isinstance(mail, MailChannel)
    assert (mail.port, mail.security, mail.recipients, mail.password) == (
        587,
        "starttls",
        ("ops@example.test",),
        "pw",
    )
    # Labels and reprs are what logs show: never the secret parts.
    for channel in (webhook, slack, teams, mail):
        assert "sEcReT" not in channel.label and "sEcReT" not in repr(channel)
        assert "xyz" not in repr(channel) and "'pw'" not in repr(channel)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "pager"}, r"alerts\[0\]: type must be one of webhook, slack, teams, email"),
        ({"type": "slack"}, "give exactly one of url or url_env"),
        ({"type": "slack", "url": "x", "url_env": "Y"}, "give exactly one of url or url_env"),
        ({"type": "slack", "url_env": "TAGSYNC_UNSET_VAR"}, "TAGSYNC_UNSET_VAR is not set"),
        ({"type": "slack", "url": "ftp://h/x"}, r"not an http\(s\) URL \(ftp://h/…\)"),
        ({"type": "teams", "url": "https://h/x", "colour": 1}, "unknown keys colour"),
        ({"type": "webhook", "url": "https://h/x", "retries": -1}, "retries must be"),
        ({"type": "webhook", "url": "https://h/x", "timeout": True}, "timeout must be"),
        ({"type": "webhook", "url": "https://h/x", "headers_env": {"Bad Name": "X"}}, "header"),
        ({"type": "email", "from": "a@b.c", "to": ["d@e.f"]}, "host is required"),
        ({"type": "email", "host": "h", "from": "a@b.c", "to": []}, "to must be"),
        ({"type": "email", "host": "h", "from": "a@b.c", "to": "x\n@y"}, "plain address"),
        (
            {
                "type": "email",
                "host": "h",
                "from": "a@b.c",
                "to": "d@e.f",
                "subject_prefix": "a\nBcc: x",
            },
            "single line",
        ),
        ({"type": "email", "host": "h", "from": "a@b.c", "to": "Eve <e@f.g>"}, "plain address"),
        ({"type": "email", "host": "h", "from": "a@b.c", "to": "d@e.f", "username": "u"}, "go"),
        (
            {
                "type": "email",
                "host": "h",
                "from": "a@b.c",
                "to": "d@e.f",
                "security": "none",
                "username": "u",
                "password_env": "PW",
            },
            "without TLS",
        ),
        (
            {"type": "email", "host": "h", "from": "a@b.c", "to": "d@e.f", "security": "tls"},
            "one of",
        ),
    ],
)
def test_invalid_channels(
    entry: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSYNC_UNSET_VAR", raising=False)
    monkeypatch.setenv("PW", "pw")
    with pytest.raises(ConfigError, match=message) as caught:
        load_channels([entry], "cfg.yaml")
    assert str(caught.value).startswith("cfg.yaml: alerts[0]")
    assert "\n" not in str(caught.value)


def test_secret_url_in_a_bad_value_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "gopher://hooks.example.test/sEcReT")
    with pytest.raises(ConfigError) as caught:
        load_channels([{"type": "webhook", "url_env": "HOOK"}])
    assert "sEcReT" not in str(caught.value) and "gopher://hooks.example.test/…" in str(
        caught.value
    )


def test_section_shape_errors() -> None:
    with pytest.raises(ConfigError, match="alerts must be a list"):
        load_channels({"type": "slack"}, "cfg.yaml")
    with pytest.raises(ConfigError, match=r"alerts\[0\] must be a mapping"):
        load_channels(["slack"], "cfg.yaml")
    duplicate = [
        {"type": "slack", "url": "https://h/1", "name": "ops"},
        {"type": "teams", "url": "https://h/2", "name": "ops"},
    ]
    with pytest.raises(ConfigError, match="already named 'ops'"):
        load_channels(duplicate, "cfg.yaml")
