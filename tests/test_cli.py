"""The CLI surface: tags, prefixes, errors without tracebacks, progress only on a TTY."""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLE_NEW, public
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from tagsync.cli import app


def tag_prefixes(path: Path, name: str) -> list[str]:
    document = json.loads(path.read_bytes())
    return next(v for v in document["values"] if v["name"] == name)["properties"]["addressPrefixes"]


def numeric(prefixes: list[str]) -> list[str]:
    networks = sorted(
        {ipaddress.ip_network(p) for p in prefixes},
        key=lambda n: (n.version, int(n.network_address), n.prefixlen),
    )
    return [str(n) for n in networks]


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_prefixes_default_tag_sorted(runner: CliRunner, state_dir: Path) -> None:
    path = public("20251006")
    code, out, err = run(runner, "prefixes", "-f", str(path), "--state-dir", str(state_dir))
    assert code == 0, err
    expected = numeric(tag_prefixes(path, "AzureAdvancedThreatProtection"))
    assert out.splitlines() == expected


def test_prefixes_families_and_aggregate(runner: CliRunner, state_dir: Path) -> None:
    path = public("20251006")
    raw = tag_prefixes(path, "AzureCloud.westeurope")
    base = ["prefixes", "AzureCloud.WestEurope", "-f", str(path), "--state-dir", str(state_dir)]
    v4 = run(runner, *base, "--ipv4")[1].splitlines()
    v6 = run(runner, *base, "--ipv6")[1].splitlines()
    assert v4 == numeric([p for p in raw if ":" not in p])
    assert v6 == numeric([p for p in raw if ":" in p])
    merged = run(runner, *base, "--aggregate", "-4")[1].splitlines()
    collapsed = ipaddress.collapse_addresses(ipaddress.ip_network(p) for p in raw if ":" not in p)
    assert merged == [str(n) for n in collapsed]


def test_aggregate_merges_overlapping_regional_tags(runner: CliRunner, state_dir: Path) -> None:
    # Microsoft publishes each tag already merged; overlaps appear when tags are combined.
    path = public("20251006")
    document = json.loads(path.read_bytes())
    union = {
        ipaddress.ip_network(p)
        for v in document["values"]
        if v["name"] == "Storage" or v["name"].startswith("Storage.")
        for p in v["properties"]["addressPrefixes"]
        if ":" not in p
    }
    code, out, _ = run(
        runner,
        "prefixes",
        "Storage",
        "--regions",
        "--aggregate",
        "--ipv4",
        "-f",
        str(path),
        "--state-dir",
        str(state_dir),
    )
    assert code == 0
    assert out.splitlines() == [str(n) for n in ipaddress.collapse_addresses(union)]
    assert len(out.splitlines()) < len(union)


def test_prefixes_regions_unions_every_variant(runner: CliRunner, state_dir: Path) -> None:
    path = public("20251006")
    document = json.loads(path.read_bytes())
    union = [
        p
        for v in document["values"]
        if v["name"] == "Storage" or v["name"].startswith("Storage.")
        for p in v["properties"]["addressPrefixes"]
    ]
    code, out, _ = run(
        runner, "prefixes", "Storage", "--regions", "-f", str(path), "--state-dir", str(state_dir)
    )
    assert code == 0
    assert out.splitlines() == numeric(union)


def test_tags_lists_counts_with_filter(runner: CliRunner, state_dir: Path) -> None:
    code, out, _ = run(
        runner, "tags", "threat", "-f", str(SAMPLE_NEW), "--state-dir", str(state_dir)
    )
    assert code == 0
    raw = tag_prefixes(SAMPLE_NEW, "AzureAdvancedThreatProtection")
    v4 = sum(1 for p in raw if ":" not in p)
    assert out == f"TAG\tIPV4\tIPV6\nAzureAdvancedThreatProtection\t{v4}\t{len(raw) - v4}\n"


def test_reads_snapshot_by_default(runner: CliRunner, state_dir: Path) -> None:
    assert run(runner, "update", "-f", str(SAMPLE_NEW), "--state-dir", str(state_dir))[0] == 0
    code, out, err = run(runner, "prefixes", "--state-dir", str(state_dir))
    assert code == 0, err
    assert "13.87.32.4/32" in out.splitlines()


def test_unknown_tag_exit_3_with_suggestion(runner: CliRunner, state_dir: Path) -> None:
    code, _, err = run(
        runner,
        "prefixes",
        "AzureAdvancedThreat",
        "-f",
        str(SAMPLE_NEW),
        "--state-dir",
        str(state_dir),
    )
    assert code == 3
    assert "did you mean AzureAdvancedThreatProtection" in err


def test_config_errors_are_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    for text, message in [
        ("cloud: mars\n", "unknown cloud"),
        ("colud: public\n", "unknown key 'colud' (did you mean cloud?)"),
        ("tags: [\n", "invalid YAML"),
        ("download:\n  retries: lots\n", "download.retries has the wrong type"),
    ]:
        config.write_text(text)
        code, _, err = run(runner, "prefixes", "-f", str(SAMPLE_NEW), "--config", str(config))
        assert code == 2, text
        assert message in err
    code, _, err = run(runner, "prefixes", "-f", str(SAMPLE_NEW), "--config", str(tmp_path / "no"))
    assert code == 2 and "config file not found" in err


def test_config_sets_cloud_and_tags(runner: CliRunner, tmp_path: Path) -> None:
    from conftest import shared_file

    gov = shared_file("servicetags/usgov/ServiceTags_AzureGovernment_20251020.json")
    config = tmp_path / "c.yaml"
    config.write_text("cloud: usgov\ntags: [AzureAdvancedThreatProtection]\n")
    code, out, err = run(runner, "prefixes", "-f", str(gov), "--config", str(config))
    assert code == 0, err
    assert out.splitlines() == numeric(tag_prefixes(gov, "AzureAdvancedThreatProtection"))


def test_errors_print_one_line_and_no_traceback(tmp_path: Path) -> None:
    html = tmp_path / "page.json"
    html.write_text("<!doctype html><html></html>")
    for args, code in [
        (["prefixes", "-f", str(html)], 3),
        (["prefixes", "-f", str(tmp_path / "missing.json")], 3),
        (["prefixes", "-f", str(tmp_path)], 3),
        (["diff", "--format", "xml", "-f", str(html)], 2),
        (["nosuchcommand"], 2),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "tagsync", *args, "--state-dir", str(tmp_path / "s")]
            if args[0] != "nosuchcommand"
            else [sys.executable, "-m", "tagsync", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tagsync",
            "prefixes",
            "-f",
            str(html),
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"tagsync: error: {html}: got an HTML page")


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    proc = subprocess.run(
        f"{sys.executable} -m tagsync prefixes AzureCloud.westeurope --regions "
        f"-f {public('20251006')} --state-dir {tmp_path} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr


def _fetch_with_stderr(url: str, out: Path, stderr: int) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "tagsync", "fetch", "--url", url, "-o", str(out)],
        stderr=stderr,
        stdout=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    return proc.returncode


def test_progress_bar_only_on_a_tty(httpserver: HTTPServer, tmp_path: Path) -> None:
    body = public("20250804").read_bytes()
    httpserver.expect_request("/ServiceTags_Public_20250804.json").respond_with_data(body)
    url = httpserver.url_for("/ServiceTags_Public_20250804.json")
    # Not a TTY: only the one-line "saved" note, no progress output.
    proc = subprocess.run(
        [sys.executable, "-m", "tagsync", "fetch", "--url", url, "-o", str(tmp_path / "a.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("tagsync: saved")
    # A TTY: rich draws a progress bar (terminal control sequences) on stderr.
    leader, follower = pty.openpty()
    try:
        code = _fetch_with_stderr(url, tmp_path / "b.json", follower)
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert code == 0
    assert b"ServiceTags_Public_20250804.json" in drawn and b"\x1b[" in drawn
    assert (tmp_path / "b.json").read_bytes() == body


def test_version(runner: CliRunner) -> None:
    code, out, _ = run(runner, "--version")
    assert code == 0 and out.startswith("tagsync ")
