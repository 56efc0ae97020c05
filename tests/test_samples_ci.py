"""The shipped automation samples: GitHub workflow, crontab, systemd units, example config.

Validated with the real tools where they exist (check-jsonschema's GitHub workflow schema,
systemd-analyze verify), and the example config is loaded by tagsync's own validators.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
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
VENV_TAGSYNC = "/opt/tagsync/bin/tagsync"


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
    # The PR holds the regenerated configs and the cut-down baseline the next run diffs against,
    # never the state directory itself (it holds the 4 MB download): that stays in RUNNER_TEMP.
    assert inputs["add-paths"].split() == ["state/**", "rendered/**"]
    assert '--state-dir "$state" --out rendered' in script
    assert 'state="$RUNNER_TEMP/tagsync-state"' in script


# --- cron ------------------------------------------------------------------------------------

_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _cron_job() -> str:
    jobs = [
        line
        for line in CRONTAB.read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"[A-Z_]+=", line)
    ]
    (job,) = jobs
    return job


def test_crontab_line() -> None:
    fields = _cron_job().split(None, 5)
    for text, (low, high) in zip(fields[:5], _CRON_RANGES, strict=True):
        assert _CRON_FIELD.fullmatch(text), text
        for number in re.findall(r"\d+", text.split("/")[0]):
            assert low <= int(number) <= high
    command = fields[5]
    assert "tagsync check" in command
    # cron runs the command with /bin/sh: it must at least parse.
    run = subprocess.run(["sh", "-n", "-c", command], capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    # cron does not expand variables in its own PATH= lines: the job line sets PATH itself.
    assert not re.search(r"^PATH=.*\$", CRONTAB.read_text(), re.MULTILINE)
    assert 'PATH="$HOME/.local/bin:$PATH"' in command


# --- systemd ---------------------------------------------------------------------------------


def installed_tagsync() -> str:
    """The tagsync command of the Python running the tests (a venv's bin/ in CI)."""
    beside = Path(sys.executable).parent / "tagsync"
    found = str(beside) if beside.exists() else shutil.which("tagsync")
    assert found is not None
    return found


def _units_for_verify(directory: Path) -> list[Path]:
    """The sample units, with ExecStart pointing at the tagsync installed here (verify checks
    that the binary exists); the sample's is a venv in /opt/tagsync."""
    service = directory / SERVICE.name
    text = SERVICE.read_text()
    assert text.count(VENV_TAGSYNC) == 1
    service.write_text(text.replace(VENV_TAGSYNC, installed_tagsync()))
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


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith(("#", ";")):
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_service_runs_check_and_treats_change_as_success() -> None:
    service = _directives(SERVICE.read_text())
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == VENV_TAGSYNC and argv[1] == "check"
    assert service["SuccessExitStatus"] == ["1"] and service["Type"] == ["oneshot"]
    timer = _directives(TIMER.read_text())
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]


def test_systemd_service_writes_only_its_state_directory_and_reaches_the_network() -> None:
    service = _directives(SERVICE.read_text())
    argv = shlex.split(service["ExecStart"][0])
    (state,) = service["StateDirectory"]
    for option in ("--state-dir", "--out"):
        written = Path(argv[argv.index(option) + 1])
        assert written.is_relative_to(Path("/var/lib") / state), option
    assert service["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in service
    # HTTPS downloads and webhooks, SMTP over IPv4 and IPv6; AF_UNIX for the local resolver.
    (families,) = service["RestrictAddressFamilies"]
    assert set(families.split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "PrivateNetwork" not in service and "IPAddressDeny" not in service
    assert service["CapabilityBoundingSet"] == [""]


def _security(service: Path, threshold: int) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run(
        [tool, "security", "--offline=yes", f"--threshold={threshold}", "--no-pager", str(service)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_systemd_service_is_hardened(tmp_path: Path) -> None:
    """`systemd-analyze security` rates the unit's exposure from 0 (locked down) to 10;
    --threshold is on a 0-100 scale and fails the command above it."""
    service, _ = _units_for_verify(tmp_path)
    run = _security(service, threshold=30)
    assert run.returncode == 0, run.stdout + run.stderr
    (score,) = re.findall(rf"Overall exposure level for {SERVICE.name}: (\d+\.\d+)", run.stdout)
    assert float(score) <= 3.0
    # The number quoted in the unit's comment is the one systemd-analyze gives.
    assert f"scores it {score})" in SERVICE.read_text()
    # The threshold really is applied: one below the score fails.
    assert _security(service, threshold=int(float(score) * 10) - 1).returncode != 0


# --- example config --------------------------------------------------------------------------


def uncommented_alerts(text: str) -> str:
    """The example config with its commented `alerts:` block switched on."""
    head, marker, block = text.partition("\n# alerts:\n")
    assert marker
    lines = [line.removeprefix("# ") if line != "#" else "" for line in block.splitlines()]
    assert all(line == "" or line.startswith("  ") for line in lines)
    return head + "\nalerts:\n" + "\n".join(lines) + "\n"


def test_example_config_as_shipped_suits_a_user_crontab() -> None:
    config = load_config(CONFIG, required=True)
    # No channel until one is configured; state and output in the user's XDG directories.
    assert config.section("alerts") is None
    assert config.state_dir is None and config.output_dir is None
    assert set(check_formats(config)) == set(site_neutral())
    render_settings(config.section("render"))


def test_example_config_alerts_are_valid_once_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = uncommented_alerts(CONFIG.read_text())
    variables = sorted(set(re.findall(r"(?:url_env|password_env|: )\s*(TAGSYNC_[A-Z_]+)", text)))
    assert {"TAGSYNC_SLACK_URL", "TAGSYNC_SMTP_PASSWORD", "TAGSYNC_TEAMS_URL"} <= set(variables)
    for variable in variables:
        monkeypatch.setenv(variable, f"https://secret.example.test/{variable.lower()}")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    config = load_config(path, required=True)
    channels = load_channels(config.section("alerts"), str(path))
    assert {type(c).__name__ for c in channels} == {
        "WebhookChannel",
        "SlackChannel",
        "TeamsChannel",
        "MailChannel",
    }
    mail = next(c for c in channels if isinstance(c, MailChannel))
    assert mail.password == "https://secret.example.test/tagsync_smtp_password"
    # Secrets live in the environment, never as literal values in the file.
    assert "hooks.slack.com/services/" not in text.replace(
        "https://hooks.slack.com/services/...", ""
    )
    assert not re.search(r"^\s*password:", text, re.MULTILINE)
