"""Deploy-by dates: publication (from the file name, else the acceptance day, marked) + 7 days,
in the text, JSON and Markdown reports and in the webhook and mail alerts (real local peers).

Expected dates come from the file name parsed here with datetime, never from tagsync.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import public
from pytest_httpserver import HTTPServer
from test_alert_support import MailSink, expected_coverage, smtp_server
from typer.testing import CliRunner

from tagsync.alerts.base import ChannelSettings
from tagsync.alerts.mail import MailChannel
from tagsync.alerts.webhook import WebhookChannel
from tagsync.cli import app
from tagsync.diff import ChangeSet, diff_service_tags
from tagsync.model import parse_service_tags
from tagsync.published import FROM_ACCEPTANCE, FROM_FILE_NAME, Publication

ATP = "AzureAdvancedThreatProtection"
OLD, NEW = "20250728", "20251006"
FAST = ChannelSettings(name="alert", timeout=3, retries=0, backoff=0)


def named_day(path: Path) -> dt.date:
    """The YYYYMMDD after the last underscore of ServiceTags_Public_YYYYMMDD.json."""
    return dt.datetime.strptime(path.stem.rsplit("_", 1)[1][:8], "%Y%m%d").date()


@pytest.fixture(scope="module")
def changes() -> ChangeSet:
    old, new = (parse_service_tags(public(d).read_bytes()) for d in (OLD, NEW))
    published = Publication(named_day(public(NEW)), FROM_FILE_NAME)
    return replace(diff_service_tags(old, new, [ATP]), published=published)


def diff_cli(runner: CliRunner, state: Path, new: Path, fmt: str) -> str:
    update = runner.invoke(app, ["update", "--file", str(public(OLD)), "--state-dir", str(state)])
    assert update.exit_code == 0, update.stderr
    args = ["diff", "--file", str(new), "--state-dir", str(state), "-t", ATP, "--format", fmt]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_deploy_by_from_the_file_name_in_every_report(runner: CliRunner, tmp_path: Path) -> None:
    day = named_day(public(NEW))
    deploy_by = (day + dt.timedelta(days=7)).isoformat()
    assert expected_coverage(public(OLD), public(NEW), ATP)["gained"]  # something to deploy
    text = diff_cli(runner, tmp_path / "s1", public(NEW), "text")
    assert f"  deploy by: {deploy_by} (published {day.isoformat()}; + 7 days)\n" in text
    document = json.loads(diff_cli(runner, tmp_path / "s2", public(NEW), "json"))
    assert document["published"] == {"date": day.isoformat(), "basis": "file-name"}
    assert document["deploy_by"] == deploy_by
    markdown = diff_cli(runner, tmp_path / "s3", public(NEW), "markdown")
    assert f"Deploy by: **{deploy_by} (published {day.isoformat()}; + 7 days)**" in markdown
    todo = markdown[markdown.index("## What to do") :]
    assert f"allow them by {deploy_by} (published" in todo


def test_a_file_name_without_a_date_counts_from_acceptance_and_says_so(
    runner: CliRunner, tmp_path: Path
) -> None:
    latest = tmp_path / "latest.json"  # a mirror's name: no publication date in it
    shutil.copyfile(public(NEW), latest)
    before = dt.datetime.now(dt.UTC).date()
    text = diff_cli(runner, tmp_path / "state", latest, "text")
    document = json.loads(diff_cli(runner, tmp_path / "state2", latest, "json"))
    after = dt.datetime.now(dt.UTC).date()
    day = dt.date.fromisoformat(document["published"]["date"])
    assert before <= day <= after
    assert document["published"]["basis"] == FROM_ACCEPTANCE
    assert document["deploy_by"] == (day + dt.timedelta(days=7)).isoformat()
    assert f"(published ≈ accepted {day.isoformat()}, file name had no date; + 7 days)" in text


def test_no_deploy_by_when_nothing_was_gained() -> None:
    # 20250811 -> 20250818: the watched tag did not change at all.
    old, new = (parse_service_tags(public(d).read_bytes()) for d in ("20250811", "20250818"))
    quiet = diff_service_tags(old, new, [ATP])
    published = Publication(named_day(public("20250818")), FROM_FILE_NAME)
    document = replace(quiet, published=published).to_dict()
    assert document["deploy_by"] is None
    assert document["published"]["date"] == "2025-08-18"


def test_webhook_carries_publication_and_deploy_by(
    httpserver: HTTPServer, changes: ChangeSet
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    WebhookChannel(FAST, f"http://127.0.0.1:{httpserver.port}/hook").send(changes)
    ((request, _),) = httpserver.log
    document = request.get_json()
    day = named_day(public(NEW))
    assert document["published"] == {"date": day.isoformat(), "basis": "file-name"}
    assert document["deploy_by"] == (day + dt.timedelta(days=7)).isoformat()


@pytest.fixture
def sink() -> MailSink:
    return MailSink()


@pytest.fixture
def port(sink: MailSink) -> Iterator[int]:
    with smtp_server(sink) as number:
        yield number


def test_mail_gives_the_deploy_by_date(sink: MailSink, port: int, changes: ChangeSet) -> None:
    channel = MailChannel(
        FAST, "127.0.0.1", port, "tagsync@example.test", ("ops@example.test",), security="none"
    )
    channel.send(changes)
    ((_, _, message),) = sink.messages
    plain, markdown = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    day = named_day(public(NEW))
    deploy_by = (
        f"{(day + dt.timedelta(days=7)).isoformat()} (published {day.isoformat()}; + 7 days)"
    )
    for body in (plain, markdown):
        assert f"; deploy by {deploy_by}; no longer reachable" in body
        assert f"Allow the newly reachable CIDRs by {deploy_by}:" in body
