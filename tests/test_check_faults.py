"""`tagsync check` as cron, systemd and CI see it: honest exit codes, nothing half-done,
a vanished tag named, a first run that does not flood the mail, output on the right stream."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from conftest import SAMPLE_NEW, SAMPLE_OLD
from typer.testing import CliRunner

from tagsync.cli import app

TAG = "AzureAdvancedThreatProtection"


def invoke(runner: CliRunner, *args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_unwritable_report_fails_before_any_output_is_replaced(
    runner: CliRunner, tmp_path: Path
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    base = ("check", "--state-dir", state, "--out", out)
    assert invoke(runner, *base, "-f", SAMPLE_OLD)[0] == 1
    before, snapshot = tree(out), tree(state / "public" / "data")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x\n")
    code, stdout, stderr = invoke(runner, *base, "-f", SAMPLE_NEW, "--report", blocker / "r.md")
    assert code == 6, stderr
    assert stdout == ""
    assert str(blocker) in stderr and len(stderr.splitlines()) == 1
    assert tree(out) == before
    assert tree(state / "public" / "data") == snapshot


def test_first_run_report_is_cut_like_the_alerts(runner: CliRunner, tmp_path: Path) -> None:
    code, stdout, stderr = invoke(
        runner, "check", "-f", SAMPLE_NEW, "--state-dir", tmp_path / "s", "--out", tmp_path / "o"
    )
    assert code == 1, stderr
    document = json.loads(SAMPLE_NEW.read_bytes())
    prefixes = next(v for v in document["values"] if v["name"] == TAG)["properties"]
    networks = [ipaddress.ip_network(p) for p in prefixes["addressPrefixes"]]
    gained = list(ipaddress.collapse_addresses(n for n in networks if n.version == 4))
    gained += list(ipaddress.collapse_addresses(n for n in networks if n.version == 6))
    listed = [line for line in stdout.splitlines() if line.startswith("  + ")]
    assert len(gained) > 20  # the case worth testing: more than the default cut
    assert len(listed) == 21  # 20 CIDRs and one "... and N more" line
    assert f"... and {len(gained) - 20} more" in listed[-1]
    assert "first accepted version" in stdout
    assert "no alert channel configured" in stderr
    assert "waiting" not in stderr


def test_vanished_watched_tag_is_a_data_error_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    assert invoke(runner, "update", "-f", SAMPLE_OLD, "--state-dir", state)[0] == 0
    document = json.loads(SAMPLE_NEW.read_bytes())
    document["values"] = [v for v in document["values"] if v["name"] != TAG]
    vanished = tmp_path / "ServiceTags_Public_20250804.json"
    vanished.write_text(json.dumps(document, indent=2))
    args = ("check", "-f", vanished, "--state-dir", state, "--out", out)
    code, _, stderr = invoke(runner, *args)
    assert code == 3
    assert f"watched tag {TAG} is not in the new version" in stderr
    assert not out.exists()
    code, _, stderr = invoke(runner, *args, "--force")
    assert code == 3
    assert "none of the watched tags is in the new version" in stderr and TAG in stderr
    assert not out.exists()


def test_save_watched_keeps_the_tags_check_resolved(runner: CliRunner, tmp_path: Path) -> None:
    from conftest import public

    source = public("20251006")
    baseline = tmp_path / "state" / "ServiceTags_watched.json"
    first = ("check", "--profile", "mdi-v3", "--out", tmp_path / "out", "-q")
    code, _, err = invoke(
        runner, *first, "-f", source, "--state-dir", tmp_path / "s1", "--save-watched", baseline
    )
    assert code == 1, err
    published = json.loads(source.read_bytes())
    saved = json.loads(baseline.read_bytes())
    wanted = {"MicrosoftDefenderForEndpoint", "OneDsCollector"}
    assert saved["changeNumber"] == published["changeNumber"]
    assert saved["values"] == [v for v in published["values"] if v["name"] in wanted]
    # The baseline alone rebuilds a state against which the same version is no change.
    state = tmp_path / "s2"
    code, _, err = invoke(
        runner, "update", "--profile", "mdi-v3", "-f", baseline, "--state-dir", state
    )
    assert code == 0, err
    code, _, err = invoke(runner, *first, "-f", source, "--state-dir", state)
    assert code == 0, err


def test_check_names_a_profile_tag_the_cloud_does_not_publish(
    runner: CliRunner, tmp_path: Path
) -> None:
    from conftest import shared_file

    china = shared_file("servicetags/china/ServiceTags_China_20250728.json")
    args = ("check", "--cloud", "china", "--profile", "mdi-v3", "-f", china)
    code, _, err = invoke(runner, *args, "--state-dir", tmp_path / "s", "--out", tmp_path / "o")
    assert code == 3
    assert "MicrosoftDefenderForEndpoint, which the china cloud does not publish" in err
    assert not (tmp_path / "o").exists()
