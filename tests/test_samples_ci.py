"""The shipped automation samples: GitHub workflow, crontab, systemd units, example config.

Validated with the real tools where they exist (check-jsonschema's GitHub workflow schema,
systemd-analyze verify), and the example config is loaded by tagsync's own validators.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SAMPLES

from tagsync.alerts import load_channels
from tagsync.alerts.mail import MailChannel
from tagsync.config import load_config
from tagsync.formats.registry import site_neutral
from tagsync.render import render_settings
from tagsync.runner import check_formats

WORKFLOW = SAMPLES / "github-workflow.yml"
CRONTAB = SAMPLES / "crontab"
SERVICE = SAMPLES / "systemd" / "tagsync.service"
TIMER = SAMPLES / "systemd" / "tagsync.timer"
CONFIG = SAMPLES / "config.example.yaml"


# --- GitHub Actions ------------------------------------------------------------------------


def test_workflow_matches_the_github_schema() -> None:
    tool = shutil.which("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed")
    run = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_schema_check_really_rejects_a_broken_workflow(tmp_path: Path) -> None:
    tool = shutil.which("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed")
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    run = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode != 0


def _workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def test_workflow_runs_weekly_and_opens_a_pull_request_on_change() -> None:
    document = _workflow()
    triggers = document[True]  # YAML 1.1 reads the bare key `on` as a boolean
    (schedule,) = triggers["schedule"]
    minute, hour, dom, month, dow = schedule["cron"].split()
    assert (dom, month) == ("*", "*") and dow.isdigit() and minute.isdigit() and hour.isdigit()
    assert document["permissions"] == {"contents": "write", "pull-requests": "write"}

    steps = document["jobs"]["check"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert uses[0] == "actions/checkout@v4"
    assert "actions/setup-python@v5" in uses
    check = next(step for step in steps if step.get("id") == "check")
    script = check["run"]
    assert "tagsync check" in script and "--report" in script
    assert 'echo "exit-code=$code" >> "$GITHUB_OUTPUT"' in script
    assert 'if [ "$code" -gt 1 ]; then exit "$code"; fi' in script

    pr = next(step for step in steps if step.get("uses", "").startswith("peter-evans/"))
    assert pr["uses"] == "peter-evans/create-pull-request@v7"
    assert pr["if"] == "steps.check.outputs.exit-code == '1'"
    inputs = pr["with"]
    assert inputs["body-path"] == "${{ runner.temp }}/tagsync-report.md"
    assert '--report "$RUNNER_TEMP/tagsync-report.md"' in script
    assert set(inputs) <= {
        "commit-message",
        "title",
        "body-path",
        "branch",
        "delete-branch",
        "add-paths",
    }
    # The PR holds the regenerated configs and the advanced snapshot the next run diffs against.
    paths = inputs["add-paths"].split()
    assert any(p.startswith("rendered") for p in paths) and any(
        p.startswith("state") for p in paths
    )
    assert "--state-dir state --out rendered" in script


# --- cron ------------------------------------------------------------------------------------

_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def test_crontab_line() -> None:
    jobs = [
        line
        for line in CRONTAB.read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"[A-Z_]+=", line)
    ]
    (job,) = jobs
    fields = job.split(None, 5)
    for text, (low, high) in zip(fields[:5], _CRON_RANGES, strict=True):
        assert _CRON_FIELD.fullmatch(text), text
        for number in re.findall(r"\d+", text.split("/")[0]):
            assert low <= int(number) <= high
    command = fields[5]
    assert "tagsync check" in command
    # cron runs the command with /bin/sh: it must at least parse.
    run = subprocess.run(["sh", "-n", "-c", command], capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "PATH=" in CRONTAB.read_text()


# --- systemd ---------------------------------------------------------------------------------


def _units_for_verify(directory: Path) -> list[Path]:
    """The sample units, with ExecStart pointing at the tagsync installed here (verify checks
    that the binary exists)."""
    tagsync = shutil.which("tagsync")
    assert tagsync is not None
    service = directory / SERVICE.name
    service.write_text(SERVICE.read_text().replace("/usr/local/bin/tagsync", tagsync))
    timer = directory / TIMER.name
    timer.write_text(TIMER.read_text())
    return [service, timer]


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run(
        [tool, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=units[0].parent,
    )


def test_systemd_units_verify(tmp_path: Path) -> None:
    run = _verify(_units_for_verify(tmp_path))
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_systemd_verify_really_catches_mistakes(tmp_path: Path) -> None:
    service, timer = _units_for_verify(tmp_path)
    service.write_text(service.read_text().replace("Type=oneshot", "Type=oneshoot"))
    timer.write_text(timer.read_text().replace("OnCalendar=Tue", "OnCalendar=Tuesdayy"))
    run = _verify([service, timer])
    assert run.returncode != 0 or run.stderr != ""


def test_systemd_service_runs_check_and_treats_change_as_success() -> None:
    service = SERVICE.read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", service, re.MULTILINE)
    argv = shlex.split(exec_start)
    assert argv[1:2] == ["check"] and "--state-dir" in argv and "--out" in argv
    assert re.search(r"^SuccessExitStatus=1$", service, re.MULTILINE)
    assert re.search(r"^Type=oneshot$", service, re.MULTILINE)
    timer = TIMER.read_text()
    assert re.search(r"^OnCalendar=", timer, re.MULTILINE)
    assert re.search(r"^Persistent=true$", timer, re.MULTILINE)


# --- example config --------------------------------------------------------------------------


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    text = CONFIG.read_text()
    variables = sorted(set(re.findall(r"(?:url_env|password_env|: )\s*(TAGSYNC_[A-Z_]+)", text)))
    assert {"TAGSYNC_SLACK_URL", "TAGSYNC_SMTP_PASSWORD", "TAGSYNC_TEAMS_URL"} <= set(variables)
    for variable in variables:
        monkeypatch.setenv(variable, f"https://secret.example.test/{variable.lower()}")
    config = load_config(CONFIG, required=True)
    channels = load_channels(config.section("alerts"), str(CONFIG))
    assert {type(c).__name__ for c in channels} == {
        "WebhookChannel",
        "SlackChannel",
        "TeamsChannel",
        "MailChannel",
    }
    mail = next(c for c in channels if isinstance(c, MailChannel))
    assert mail.password == "https://secret.example.test/tagsync_smtp_password"
    assert set(check_formats(config)) == set(site_neutral())
    render_settings(config.section("render"))
    # Secrets live in the environment, never as literal values in the file.
    assert "hooks.slack.com/services/" not in text.replace(
        "https://hooks.slack.com/services/...", ""
    )
    assert not re.search(r"^\s*password:", text, re.MULTILINE)
