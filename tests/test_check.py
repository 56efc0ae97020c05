"""`tagsync check` end to end: real published versions, a loopback download page, a real webhook
receiver and a real SMTP server; exit codes, nothing lost on failure, quiet and JSON logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import public
from pages import details_page
from pytest_httpserver import HTTPServer
from test_alert_support import (
    MailSink,
    expected_change,
    raw_prefixes,
    refused_port,
    smtp_server,
)
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.config import load_config
from tagsync.errors import ConfigError
from tagsync.formats.registry import site_neutral
from tagsync.publish import PUBLISHED_LIST
from tagsync.runner import check_formats

SITE_NEUTRAL_FORMATS = site_neutral()


ATP = "AzureAdvancedThreatProtection"
OLD, NEW = "20250728", "20250804"  # AATP: 13.87.32.4/32 replaces 51.143.192.112/29
SECRET = "s3cr3t-T0KEN"
HOOK = f"/hooks/services/{SECRET}"
PAGE = "/en-us/download/details.aspx"
JSON_PATH = f"/download/7/1/D/0000/ServiceTags_Public_{NEW}.json"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Default config/state/output locations inside tmp_path, never the real home."""
    home = tmp_path / "home"
    for variable, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(variable, str(home / sub))
    return home


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def sink() -> MailSink:
    return MailSink()


@pytest.fixture
def smtp_port(sink: MailSink) -> Iterator[int]:
    with smtp_server(sink) as port:
        yield port


def invoke(runner: CliRunner, *args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def seed(runner: CliRunner, state: Path, date: str = OLD) -> None:
    code, _, err = invoke(runner, "update", "--file", public(date), "--state-dir", state)
    assert code == 0, err


def local(server: HTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def serve_new_version(server: HTTPServer, date: str = NEW) -> str:
    """A Microsoft-shaped download page linking the newer real file on the same server."""
    path = JSON_PATH.replace(NEW, date)
    data = public(date).read_bytes()
    server.expect_request(path).respond_with_data(data, content_type="application/json")
    page = details_page(local(server, path), f"ServiceTags_Public_{date}.json")
    server.expect_request(PAGE).respond_with_data(page, content_type="text/html")
    return local(server, PAGE)


def write_config(tmp_path: Path, state: Path, out: Path, **extra: Any) -> Path:
    document: dict[str, Any] = {
        "state_dir": str(state),
        "output_dir": str(out),
        "download": {"retries": 0, "backoff": 0, "connect_timeout": 5, "read_timeout": 20},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def alerts(smtp_port: int, **webhook: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "webhook",
            "url_env": "TAGSYNC_TEST_HOOK",
            "retries": 1,
            "backoff": 0,
            "timeout": 5,
            **webhook,
        },
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "from": "tagsync@example.test",
            "to": ["netops@example.test"],
            "retries": 0,
        },
    ]


def hook_payloads(server: HTTPServer) -> list[Any]:
    return [request.get_json() for request, response in server.log if request.path == HOOK]


def snapshot_bytes(state: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(state)): path.read_bytes()
        for path in sorted(state.rglob("*"))
        # last-check.json records every run for `tagsync status`, failed ones included.
        if path.is_file() and path.name not in (".lock", "last-check.json")
    }


def tree(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != PUBLISHED_LIST
    }


def change_number(date: str) -> int:
    return int(json.loads(public(date).read_bytes())["changeNumber"])


# --- end to end ----------------------------------------------------------------------------


def test_end_to_end_alerts_renders_and_accepts(
    runner: CliRunner,
    httpserver: HTTPServer,
    sink: MailSink,
    smtp_port: int,
    tmp_path: Path,
    state: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(runner, state)
    page_url = serve_new_version(httpserver)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    monkeypatch.setenv("TAGSYNC_TEST_HOOK", local(httpserver, HOOK))
    config = write_config(tmp_path, state, out, alerts=alerts(smtp_port))

    code, stdout, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 1, stderr

    added, removed = expected_change(public(OLD), public(NEW), ATP)
    old_number, new_number = change_number(OLD), change_number(NEW)
    (payload,) = hook_payloads(httpserver)
    assert (payload["old_change_number"], payload["new_change_number"]) == (old_number, new_number)
    assert list(payload["tags"]) == [ATP]
    assert set(payload["tags"][ATP]["added"]) == added
    assert set(payload["tags"][ATP]["removed"]) == removed

    ((_, rcpt_tos, message),) = sink.messages
    assert rcpt_tos == ["netops@example.test"]
    assert f"changeNumber {old_number} → {new_number}" in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert ATP in text
    assert all(f"  + {p}\n" in text for p in added)
    assert all(f"  - {p}\n" in text for p in removed)

    # Quiet for cron: the change report itself is the output (stdout), nothing on stderr; the
    # secret is in neither.
    assert stderr == ""
    assert f"changeNumber {old_number} -> {new_number}" in stdout
    assert all(p in stdout for p in added | removed)
    assert SECRET not in stdout

    # The output dir holds exactly what a fresh `tagsync render` of the new version gives,
    # plus the incremental PAN-OS commands for this change (= render --against the old file).
    fresh, incremental = tmp_path / "fresh", tmp_path / "incremental"
    empty_state = tmp_path / "empty-state"
    code, _, err = invoke(
        runner,
        "render",
        *SITE_NEUTRAL_FORMATS,
        "--file",
        public(NEW),
        "--out",
        fresh,
        "--state-dir",
        empty_state,
    )
    assert code == 0, err
    code, _, err = invoke(
        runner,
        "render",
        "paloalto",
        "--file",
        public(NEW),
        "--against",
        public(OLD),
        "--out",
        incremental,
        "--state-dir",
        empty_state,
    )
    assert code == 0, err
    rendered, expected = tree(out), tree(fresh)
    increment = "paloalto/incremental-set-commands.txt"
    assert set(rendered) == set(expected) | {increment}
    assert {k: v for k, v in rendered.items() if k != increment} == expected
    assert rendered[increment] == tree(incremental)[increment]

    meta = json.loads((state / "public" / "snapshot.json").read_text())
    assert meta["change_number"] == new_number

    # Second run: same version, nothing to say, nothing sent, nothing rewritten; last change's
    # incremental commands go, so the directory is exactly one version.
    kept = [p for p in out.rglob("*") if p.is_file() and p.name not in (PUBLISHED_LIST,)]
    before = {p: p.stat().st_mtime_ns for p in kept if p.name != Path(increment).name}
    code, stdout, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert (code, stdout, stderr) == (0, "", "")
    assert len(hook_payloads(httpserver)) == 1
    assert len(sink.messages) == 1
    assert tree(out) == expected
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_delivery_failure_keeps_snapshot_and_next_run_alerts(
    runner: CliRunner,
    httpserver: HTTPServer,
    sink: MailSink,
    smtp_port: int,
    tmp_path: Path,
    state: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(runner, state)
    page_url = serve_new_version(httpserver)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("down", status=500)
    monkeypatch.setenv("TAGSYNC_TEST_HOOK", local(httpserver, HOOK))
    config = write_config(tmp_path, state, out, alerts=alerts(smtp_port))
    before = snapshot_bytes(state)

    code, _, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 5
    assert "1 of 2 alert channels failed" in stderr and "HTTP 500" in stderr
    assert "next run alerts again" in stderr
    assert SECRET not in stderr
    assert len(hook_payloads(httpserver)) == 2  # first try + 1 bounded retry
    assert len(sink.messages) == 1  # the failing webhook did not stop the mail
    assert snapshot_bytes(state) == before

    httpserver.clear()
    page_url = serve_new_version(httpserver)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    code, _, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 1, stderr
    (payload,) = hook_payloads(httpserver)
    added, removed = expected_change(public(OLD), public(NEW), ATP)
    assert set(payload["tags"][ATP]["added"]) == added
    assert set(payload["tags"][ATP]["removed"]) == removed
    assert len(sink.messages) == 2
    assert snapshot_bytes(state) != before

    code, _, _ = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 0
    assert len(hook_payloads(httpserver)) == 1


def test_refused_connection_exits_5(
    runner: CliRunner, tmp_path: Path, state: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(runner, state)
    before = snapshot_bytes(state)
    with refused_port() as port:
        monkeypatch.setenv("TAGSYNC_TEST_HOOK", f"http://127.0.0.1:{port}{HOOK}")
        config = write_config(
            tmp_path,
            state,
            out,
            alerts=[{"type": "slack", "url_env": "TAGSYNC_TEST_HOOK", "retries": 0}],
        )
        code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW))
    assert code == 5 and "connection refused" in stderr and SECRET not in stderr
    assert snapshot_bytes(state) == before


# --- defaults without a config -------------------------------------------------------------


def test_without_config_watches_aatp_and_renders_site_neutral_formats(
    runner: CliRunner, state: Path, isolated_home: Path
) -> None:
    seed(runner, state)
    code, stdout, stderr = invoke(runner, "check", "--file", public(NEW), "--state-dir", state)
    assert code == 1, stderr
    assert f"{ATP} (tag changeNumber" in stdout
    assert "no alert channel configured" in stderr
    default_out = isolated_home / "data" / "tagsync" / "out"
    top_level = {path.name for path in default_out.iterdir() if path.name != PUBLISHED_LIST}
    assert top_level == set(SITE_NEUTRAL_FORMATS)


def test_first_run_counts_everything_as_added(
    runner: CliRunner, state: Path, out: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.md"
    code, _, stderr = invoke(
        runner,
        "check",
        "--file",
        public(NEW),
        "--state-dir",
        state,
        "--out",
        out,
        "--report",
        report,
    )
    assert code == 1, stderr
    everything = raw_prefixes(public(NEW), ATP)
    text = report.read_text()
    new_number = json.loads(public(NEW).read_bytes())["changeNumber"]
    assert f"changeNumber {new_number} (first accepted version)" in text
    assert "none →" not in text
    assert f"| `{ATP}` | +{len(everything)} | -0 | 0 → {len(everything)} |" in text
    assert all(p in text for p in everything)
    meta = json.loads((state / "public" / "snapshot.json").read_text())
    assert meta["change_number"] == change_number(NEW)


def test_report_for_a_pull_request(
    runner: CliRunner, state: Path, out: Path, tmp_path: Path
) -> None:
    seed(runner, state)
    report = tmp_path / "report.md"
    code, _, stderr = invoke(
        runner,
        "check",
        "--file",
        public(NEW),
        "--state-dir",
        state,
        "--out",
        out,
        "--report",
        report,
    )
    assert code == 1, stderr
    text = report.read_text()
    added, removed = expected_change(public(OLD), public(NEW), ATP)
    row = f"| `{ATP}` | +{len(added)} | -{len(removed)} |"
    assert row in text
    assert (
        text.index(row) < text.index("## Addresses gained and lost") < text.index("## What to do")
    )
    assert all(p in text for p in added | removed)
    assert "`paloalto/incremental-set-commands.txt`" in text
    # No change, no report: a stale file is not rewritten.
    report.unlink()
    code, _, _ = invoke(
        runner,
        "check",
        "--file",
        public(NEW),
        "--state-dir",
        state,
        "--out",
        out,
        "--report",
        report,
    )
    assert code == 0 and not report.exists()


# --- nothing lost on failure ---------------------------------------------------------------


def test_failed_render_leaves_previous_files_and_snapshot(
    runner: CliRunner,
    httpserver: HTTPServer,
    tmp_path: Path,
    state: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(runner, state)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    monkeypatch.setenv("TAGSYNC_TEST_HOOK", local(httpserver, HOOK))
    config = write_config(
        tmp_path, state, out, alerts=[{"type": "webhook", "url_env": "TAGSYNC_TEST_HOOK"}]
    )
    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(OLD))
    assert code == 0, stderr
    previous = tree(out)
    before = snapshot_bytes(state)
    # A file where the windows/ directory should be: the last output cannot be written.
    blocker = out / "windows"
    for child in blocker.iterdir():
        child.unlink()
    blocker.rmdir()
    blocker.write_text("in the way\n")
    del previous["windows/rules.ps1"]
    previous["windows"] = b"in the way\n"

    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW))
    assert code == 6  # a local file system fault
    assert "cannot write the rendered configs" in stderr
    assert tree(out) == previous  # not one file replaced, no temp files left behind
    assert snapshot_bytes(state) == before
    assert hook_payloads(httpserver) == []  # no alert for a change that was not rendered

    blocker.unlink()
    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW))
    assert code == 1, stderr
    assert len(hook_payloads(httpserver)) == 1


def test_rollback_is_refused_then_allowed(runner: CliRunner, state: Path, out: Path) -> None:
    seed(runner, state, NEW)
    before = snapshot_bytes(state)
    args = ("check", "--file", public(OLD), "--state-dir", state, "--out", out)
    code, _, stderr = invoke(runner, *args)
    assert code == 3 and "--allow-rollback" in stderr
    assert snapshot_bytes(state) == before and not out.exists()
    code, _, stderr = invoke(runner, *args, "--allow-rollback")
    assert code == 1, stderr
    meta = json.loads((state / "public" / "snapshot.json").read_text())
    assert meta["change_number"] == change_number(OLD)


def test_mass_removal_guard_and_force(
    runner: CliRunner, tmp_path: Path, state: Path, out: Path
) -> None:
    seed(runner, state)
    config = write_config(tmp_path, state, out, guards={"max_removal_ratio": 0.001})
    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW))
    assert code == 3 and "refusing mass removal" in stderr
    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW), "--force")
    assert code == 1, stderr


def test_download_failures_exit_4(
    runner: CliRunner, httpserver: HTTPServer, tmp_path: Path, state: Path, out: Path
) -> None:
    seed(runner, state)
    config = write_config(tmp_path, state, out)
    httpserver.expect_request("/missing").respond_with_data("gone", status=404)
    code, _, stderr = invoke(
        runner, "check", "--config", config, "--page-url", local(httpserver, "/missing")
    )
    assert code == 4 and "HTTP 404" in stderr
    with refused_port() as port:
        code, _, stderr = invoke(
            runner, "check", "--config", config, "--url", f"http://127.0.0.1:{port}/x.json"
        )
    assert code == 4 and "connection refused" in stderr


def test_bad_data_exits_3(
    runner: CliRunner, httpserver: HTTPServer, tmp_path: Path, state: Path, out: Path
) -> None:
    seed(runner, state)
    before = snapshot_bytes(state)
    config = write_config(tmp_path, state, out)
    httpserver.expect_request("/st.json").respond_with_data("<html>maintenance</html>")
    code, _, stderr = invoke(
        runner, "check", "--config", config, "--url", local(httpserver, "/st.json")
    )
    assert code == 3 and stderr.startswith("tagsync: error: ")
    assert snapshot_bytes(state) == before


def test_config_errors_exit_2_before_any_download(
    runner: CliRunner,
    httpserver: HTTPServer,
    tmp_path: Path,
    state: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAGSYNC_TEST_HOOK", raising=False)
    page_url = serve_new_version(httpserver)
    config = write_config(
        tmp_path, state, out, alerts=[{"type": "slack", "url_env": "TAGSYNC_TEST_HOOK"}]
    )
    code, _, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 2 and "TAGSYNC_TEST_HOOK is not set" in stderr
    assert httpserver.log == []
    config = write_config(tmp_path, state, out, check={"formats": ["iptables", "pf"]})
    code, _, stderr = invoke(runner, "check", "--config", config, "--page-url", page_url)
    assert code == 2 and "unknown format 'pf'" in stderr
    code, _, _ = invoke(runner, "check", "--config", config, "--log-format", "xml")
    assert code == 2


def test_configured_formats_only(runner: CliRunner, tmp_path: Path, state: Path, out: Path) -> None:
    config = write_config(tmp_path, state, out, check={"formats": ["nftables"]})
    code, _, stderr = invoke(runner, "check", "--config", config, "--file", public(NEW))
    assert code == 1, stderr
    assert sorted(tree(out)) == ["nftables/apply.sh", "nftables/tagsync.nft"]


# --- locking -------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from tagsync.clouds import get_cloud
from tagsync.store import Store
with Store(Path(sys.argv[1]), get_cloud("public")).locked(5):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(state: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(state), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_second_run_gives_up_on_a_held_lock(runner: CliRunner, state: Path, out: Path) -> None:
    seed(runner, state)
    holder = hold_lock(state, 30)
    try:
        code, _, stderr = invoke(
            runner,
            "check",
            "--file",
            public(NEW),
            "--state-dir",
            state,
            "--out",
            out,
            "--lock-timeout",
            "0.5",
        )
    finally:
        holder.kill()
        holder.wait()
    assert code == 3
    assert "another tagsync run holds the state lock (waited 0.5s)" in stderr


def test_second_run_waits_for_the_lock(runner: CliRunner, state: Path, out: Path) -> None:
    seed(runner, state)
    holder = hold_lock(state, 1.0)
    try:
        code, _, stderr = invoke(
            runner,
            "check",
            "--file",
            public(NEW),
            "--state-dir",
            state,
            "--out",
            out,
            "--lock-timeout",
            "30",
        )
    finally:
        holder.wait()
    assert code == 1, stderr


# --- logging -------------------------------------------------------------------------------


def test_verbose_shows_each_step(runner: CliRunner, state: Path, out: Path) -> None:
    seed(runner, state, NEW)
    code, _, stderr = invoke(
        runner, "check", "--file", public(NEW), "--state-dir", state, "--out", out, "--verbose"
    )
    assert code == 0
    assert "tagsync: loaded Public changeNumber" in stderr
    assert "no change in the watched tags" in stderr
    assert "updated " in stderr


def test_json_logs_from_the_real_program(
    httpserver: HTTPServer, tmp_path: Path, state: Path, out: Path, runner: CliRunner
) -> None:
    seed(runner, state)
    page_url = serve_new_version(httpserver)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("down", status=503)
    config = write_config(
        tmp_path,
        state,
        out,
        alerts=[{"type": "teams", "url_env": "TAGSYNC_TEST_HOOK", "retries": 0}],
    )
    env = {**os.environ, "TAGSYNC_TEST_HOOK": local(httpserver, HOOK)}
    command = [
        sys.executable,
        "-m",
        "tagsync",
        "check",
        "--config",
        str(config),
        "--page-url",
        page_url,
        "--log-format",
        "json",
        "--verbose",
    ]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 5
    assert run.stdout == ""
    events = [json.loads(line) for line in run.stderr.splitlines()]
    assert all({"time", "level", "message"} <= set(e) for e in events)
    by_event = {e.get("event"): e for e in events}
    changed = by_event["changed"]
    added, removed = expected_change(public(OLD), public(NEW), ATP)
    assert set(changed["diff"]["tags"][ATP]["added"]) == added
    assert set(changed["diff"]["tags"][ATP]["removed"]) == removed
    assert changed["level"] == "notice"
    assert by_event["alert_failed"]["level"] == "error"
    assert by_event["failed"]["exit_code"] == 5
    assert SECRET not in run.stderr

    # Quiet JSON run with nothing new: no output at all.
    httpserver.clear()
    page_url = serve_new_version(httpserver)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    run = subprocess.run(command[:-1], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert [json.loads(line)["event"] for line in run.stderr.splitlines()] == ["changed"]
    run = subprocess.run(command[:-1], capture_output=True, text=True, env=env, timeout=120)
    assert (run.returncode, run.stderr) == (0, "")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, SITE_NEUTRAL_FORMATS),
        ({"check": {"formats": ["windows", "iptables", "windows"]}}, ("windows", "iptables")),
        ({"formats": "nftables"}, ("nftables",)),
        ({"formats": ["paloalto"], "check": {"formats": ["expressroute"]}}, ("expressroute",)),
    ],
)
def test_check_formats(tmp_path: Path, document: dict[str, Any], expected: tuple[str, ...]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    assert check_formats(load_config(path)) == tuple(expected)


def test_check_formats_all(tmp_path: Path) -> None:
    # "all" means what it means for `tagsync render all`: the formats needing no site settings.
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"check": {"formats": ["nftables", "all"]}}))
    assert check_formats(load_config(path)) == SITE_NEUTRAL_FORMATS
    path.write_text(yaml.safe_dump({"check": {"formats": ["all", "mdi-sensor"]}}))
    assert check_formats(load_config(path)) == (*SITE_NEUTRAL_FORMATS, "mdi-sensor")


@pytest.mark.parametrize(
    "document",
    [
        {"check": "iptables"},
        {"check": {"formats": []}},
        {"check": {"format": ["x"]}},
        {"formats": {"iptables": {}}},
    ],
)
def test_check_formats_errors(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        check_formats(load_config(path))
    assert str(caught.value).startswith(f"{path}: ")
