"""Webhook alerts (generic, Slack, Teams) against a real HTTP server on 127.0.0.1.

Payloads are asserted as received by the server; failures are real: 500s, a peer that never
answers (timeout) and a port nobody listens on (connection refused).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import public
from pytest_httpserver import HTTPServer
from test_alert_support import (
    expected_change,
    expected_coverage,
    hanging_port,
    refused_port,
    sibling_pair,
)

from tagsync.alerts import send_alerts
from tagsync.alerts.base import Channel, ChannelSettings, DeliveryError, redact_url
from tagsync.alerts.slack import SlackChannel, slack_payload
from tagsync.alerts.summary import plain_text, summarize
from tagsync.alerts.teams import TeamsChannel, teams_payload
from tagsync.alerts.webhook import WebhookChannel
from tagsync.diff import ChangeSet, diff_service_tags, diff_tags
from tagsync.logs import configure
from tagsync.model import parse_service_tags

ATP = "AzureAdvancedThreatProtection"
FRONT_DOOR = "AzureFrontDoor.Backend"
SECRET = "T0KEN-d0-not-leak"
HOOK_PATH = f"/services/T000/B000/{SECRET}"
FAST = ChannelSettings(name="hook", timeout=2, retries=2, backoff=0)


@pytest.fixture(scope="module")
def versions() -> tuple[Path, Path]:
    # 20250728 -> 20251006: AATP gains 5 prefixes and loses 1, Front Door gains 29 (and addresses:
    # none of these texts is covered by another prefix).
    return public("20250728"), public("20251006")


@pytest.fixture(scope="module")
def changes(versions: tuple[Path, Path]) -> ChangeSet:
    old, new = (parse_service_tags(p.read_bytes(), source=str(p)) for p in versions)
    return diff_service_tags(old, new, [ATP, FRONT_DOOR])


def url(server: HTTPServer, path: str = HOOK_PATH) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def received(server: HTTPServer) -> list[Any]:
    return [request.get_json() for request, _ in server.log]


def all_text(value: object) -> str:
    """Every string inside a JSON document, joined: what a reader of the message can see."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(all_text(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(all_text(v) for v in value)
    return ""


# --- payloads ------------------------------------------------------------------------------


def test_generic_webhook_posts_the_diff_document(
    httpserver: HTTPServer, changes: ChangeSet, versions: tuple[Path, Path]
) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    headers = {"Authorization": "Bearer abc"}
    WebhookChannel(FAST, url(httpserver), headers).send(changes)

    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Authorization"] == "Bearer abc"
    document = request.get_json()
    assert document == changes.to_dict()
    added, removed = expected_change(*versions, ATP)
    assert set(document["tags"][ATP]["added"]) == added
    assert set(document["tags"][ATP]["removed"]) == removed
    assert document["cloud"] == "Public"
    assert (document["old_change_number"], document["new_change_number"]) == (364, 372)
    assert document["tags"][ATP]["coverage"] == expected_coverage(*versions, ATP)
    fd_added, _ = expected_change(*versions, FRONT_DOOR)
    assert set(document["tags"][FRONT_DOOR]["added"]) == fd_added  # not truncated
    assert document["tags"][FRONT_DOOR]["coverage"] == expected_coverage(*versions, FRONT_DOOR)


def test_slack_blocks_name_everything_and_truncate(
    httpserver: HTTPServer, changes: ChangeSet, versions: tuple[Path, Path]
) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    settings = ChannelSettings(name="slack", timeout=2, retries=0, max_prefixes=10)
    SlackChannel(settings, url(httpserver)).send(changes)

    (payload,) = received(httpserver)
    assert "Public" in payload["text"] and "364 → 372" in payload["text"]
    blocks = payload["blocks"]
    assert blocks[0]["type"] == "header"
    assert "364 → 372" in blocks[0]["text"]["text"]
    sections = {b["text"]["text"].split("*")[1]: b["text"]["text"] for b in blocks[3:]}
    assert set(sections) == {ATP, FRONT_DOOR}
    coverage = expected_coverage(*versions, ATP)
    atp = sections[ATP]
    assert f"*Now reachable ({len(coverage['gained'])})*" in atp
    assert f"*No longer reachable ({len(coverage['lost'])})*" in atp
    assert all(f"`{cidr}`" in atp for cidr in coverage["gained"] + coverage["lost"])
    fd_gained = expected_coverage(*versions, FRONT_DOOR)["gained"]
    front_door = sections[FRONT_DOOR]
    shown = [cidr for cidr in fd_gained if f"`{cidr}`" in front_door]
    assert shown == fd_gained[:10]
    assert f"… and {len(fd_gained) - 10} more" in front_door
    fields = all_text(blocks[1])
    assert "Public" in fields
    assert f"*Now reachable*\n+{changes.gained_count} CIDRs (" in fields
    assert f"*No longer reachable*\n−{changes.lost_count} CIDRs (" in fields


def test_teams_adaptive_card_envelope(
    httpserver: HTTPServer, changes: ChangeSet, versions: tuple[Path, Path]
) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("", status=202)
    TeamsChannel(FAST, url(httpserver)).send(changes)

    (payload,) = received(httpserver)
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    text = all_text(card["body"])
    assert "Public" in text and "364 → 372" in text
    coverage = expected_coverage(*versions, ATP)
    assert all(f"- {cidr}" in text for cidr in coverage["gained"] + coverage["lost"])
    assert "AzureAdvancedThreatProtection" in text.replace("\\", "")
    fd_gained = expected_coverage(*versions, FRONT_DOOR)["gained"]
    assert f"… and {len(fd_gained) - 20} more" in text  # 20 shown by default


# --- failures ------------------------------------------------------------------------------


def test_retries_a_500_then_succeeds(httpserver: HTTPServer, changes: ChangeSet) -> None:
    httpserver.expect_ordered_request(HOOK_PATH).respond_with_data("busy", status=500)
    httpserver.expect_ordered_request(HOOK_PATH).respond_with_data("ok")
    WebhookChannel(FAST, url(httpserver)).send(changes)
    assert len(httpserver.log) == 2
    httpserver.check_assertions()


def test_persistent_500_gives_up_after_bounded_retries(
    httpserver: HTTPServer, changes: ChangeSet
) -> None:
    httpserver.expect_request(HOOK_PATH).respond_with_data("down", status=500)
    with pytest.raises(DeliveryError) as caught:
        SlackChannel(FAST, url(httpserver)).send(changes)
    assert len(httpserver.log) == 3
    message = str(caught.value)
    assert "HTTP 500" in message and "gave up after 3 attempts" in message
    assert SECRET not in message and f"127.0.0.1:{httpserver.port}/…" in message


def test_client_error_is_not_retried(httpserver: HTTPServer, changes: ChangeSet) -> None:
    httpserver.expect_request(HOOK_PATH).respond_with_data("no such hook", status=404)
    with pytest.raises(DeliveryError, match="HTTP 404"):
        TeamsChannel(FAST, url(httpserver)).send(changes)
    assert len(httpserver.log) == 1


def test_timeout(changes: ChangeSet) -> None:
    settings = ChannelSettings(name="hook", timeout=0.3, retries=1, backoff=0)
    with hanging_port() as port, pytest.raises(DeliveryError) as caught:
        WebhookChannel(settings, f"http://127.0.0.1:{port}{HOOK_PATH}").send(changes)
    assert "timed out" in str(caught.value) and "2 attempts" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_connection_refused(changes: ChangeSet) -> None:
    with refused_port() as port, pytest.raises(DeliveryError) as caught:
        SlackChannel(FAST, f"http://127.0.0.1:{port}{HOOK_PATH}").send(changes)
    assert "connection refused" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_one_failing_channel_does_not_stop_the_others(
    httpserver: HTTPServer, changes: ChangeSet
) -> None:
    httpserver.expect_request("/good").respond_with_data("ok")
    stream = io.StringIO()
    log = configure(verbose=True, log_format="json", stream=stream)
    with refused_port() as port:
        channels: list[Channel] = [
            SlackChannel(ChannelSettings("broken", 2, 0, 0), f"http://127.0.0.1:{port}/{SECRET}"),
            WebhookChannel(ChannelSettings("good", 2, 0, 0), url(httpserver, "/good")),
        ]
        failures = send_alerts(channels, changes, log)
    assert len(failures) == 1 and failures[0].startswith("broken:")
    assert received(httpserver) == [changes.to_dict()]
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["alert_failed", "alert_sent"]
    assert SECRET not in stream.getvalue()


def test_urllib3_debug_logging_cannot_leak_the_url(
    httpserver: HTTPServer, changes: ChangeSet, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(HOOK_PATH).respond_with_data("ok")
    stream = io.StringIO()
    log = configure(verbose=True, log_format="text", stream=stream)
    with caplog.at_level(logging.DEBUG):
        send_alerts([WebhookChannel(FAST, url(httpserver))], changes, log)
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # the test server's
    assert not any(SECRET in record.getMessage() for record in ours)
    assert SECRET not in stream.getvalue()
    assert "alert sent to hook (webhook http://127.0.0.1:" in stream.getvalue()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/…"),
        ("https://user:pw@example.com:8443/x?sig=abc", "https://example.com:8443/…"),
        ("http://[::1]:9/hook", "http://[::1]:9/…"),
        ("http://[::1", "<invalid URL>"),
    ],
)
def test_redact_url(raw: str, shown: str) -> None:
    assert redact_url(raw) == shown


def test_many_tags_are_cut_with_a_count(changes: ChangeSet) -> None:
    summary = summarize(changes, max_prefixes=3, max_tags=1)
    slack = slack_payload(summary)
    assert "… and 1 more tags" in all_text(slack["blocks"][-1])
    assert sum(block["type"] == "section" for block in slack["blocks"]) == 2  # fields + 1 tag
    card = teams_payload(summary)["attachments"][0]["content"]
    assert "… and 1 more tags" in all_text(card["body"])
    assert summary.tag_names == f"{ATP} and 1 more"


def test_alerts_put_reaggregations_last_as_one_line(
    changes: ChangeSet, versions: tuple[Path, Path]
) -> None:
    old_cloud = parse_service_tags(versions[1].read_bytes()).tags["AzureCloud"]
    low, high, parent = sibling_pair(old_cloud.prefixes, 4)
    kept = tuple(p for p in old_cloud.prefixes if p not in (low, high))
    reaggregated = diff_tags("AzureCloud", old_cloud, replace(old_cloud, prefixes=(*kept, parent)))
    mixed = ChangeSet("Public", 364, 372, {**changes.tags, "AzureCloud": reaggregated})
    summary = summarize(mixed, max_prefixes=3, max_tags=2)
    # "AzureCloud" sorts before "AzureFrontDoor.Backend", but tags whose addresses changed lead.
    assert [tag.name for tag in summary.tags] == [ATP, FRONT_DOOR]
    assert summary.headline.endswith(", 1 re-aggregated with the same addresses")
    full = plain_text(summarize(mixed))
    line = next(line for line in full.splitlines() if line.startswith("AzureCloud "))
    count = len(old_cloud.prefixes)
    assert line.endswith(
        f"3 prefixes re-aggregated, same addresses ({count} → {count - 1} prefixes)"
    )
    assert "Re-aggregated tags need nothing beyond re-rendering" in full
    slack = all_text(slack_payload(summarize(mixed))["blocks"])
    assert "*AzureCloud*: 3 prefixes re-aggregated, same addresses" in slack
