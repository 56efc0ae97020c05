"""Diffs on real consecutive versions, checked against set arithmetic done in the test."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public
from test_alert_support import expected_coverage
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.diff import diff_service_tags
from tagsync.model import parse_service_tags


def prefixes_by_tag(path: Path) -> dict[str, set[str]]:
    document = json.loads(path.read_bytes())
    return {v["name"]: set(v["properties"]["addressPrefixes"]) for v in document["values"]}


def change_numbers(path: Path) -> dict[str, int]:
    document = json.loads(path.read_bytes())
    return {v["name"]: v["properties"]["changeNumber"] for v in document["values"]}


def expected_changes(old: Path, new: Path) -> dict[str, tuple[set[str], set[str]]]:
    before, after = prefixes_by_tag(old), prefixes_by_tag(new)
    result = {}
    for name in set(before) | set(after):
        added = after.get(name, set()) - before.get(name, set())
        removed = before.get(name, set()) - after.get(name, set())
        if added or removed:
            result[name] = (added, removed)
    return result


@pytest.mark.parametrize(("old", "new"), [("20250728", "20250804"), ("20250901", "20250908")])
def test_all_tags_diff_matches_set_difference(old: str, new: str) -> None:
    old_path, new_path = public(old), public(new)
    changes = diff_service_tags(
        parse_service_tags(old_path.read_bytes()), parse_service_tags(new_path.read_bytes())
    )
    expected = expected_changes(old_path, new_path)
    prefix_changes = {
        name: (set(c.added), set(c.removed))
        for name, c in changes.tags.items()
        if c.added or c.removed
    }
    assert prefix_changes == expected
    assert expected  # these weeks really changed
    for change in changes.tags.values():
        assert list(change.added) == sorted(change.added, key=_numeric)
        assert list(change.removed) == sorted(change.removed, key=_numeric)


def _numeric(prefix: str) -> tuple[int, int, int]:
    import ipaddress

    network = ipaddress.ip_network(prefix)
    return (network.version, int(network.network_address), network.prefixlen)


def test_change_number_only_release_has_no_prefix_changes() -> None:
    # Public 366 -> 367 differ only in the top-level changeNumber.
    old = parse_service_tags(public("20250811").read_bytes())
    new = parse_service_tags(public("20250818").read_bytes())
    assert old.change_number != new.change_number
    assert not diff_service_tags(old, new).changed


def test_cli_json_diff_shape_on_samples(runner: CliRunner, state_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "diff",
            "--file",
            str(SAMPLE_NEW),
            "--against",
            str(SAMPLE_OLD),
            "--format",
            "json",
            "--state-dir",
            str(state_dir),
        ],
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    added, removed = expected_changes(SAMPLE_OLD, SAMPLE_NEW)["AzureAdvancedThreatProtection"]
    old_numbers, new_numbers = change_numbers(SAMPLE_OLD), change_numbers(SAMPLE_NEW)
    # The new file's name (ServiceTags_Public_20250804...) dates it; deploy-by is a week later.
    named = dt.datetime.strptime(SAMPLE_NEW.name.split("_")[2][:8], "%Y%m%d").date()
    assert document == {
        "cloud": "Public",
        "old_change_number": json.loads(SAMPLE_OLD.read_bytes())["changeNumber"],
        "new_change_number": json.loads(SAMPLE_NEW.read_bytes())["changeNumber"],
        "published": {"date": named.isoformat(), "basis": "file-name"},
        "deploy_by": (named + dt.timedelta(days=7)).isoformat(),
        "tags": {
            "AzureAdvancedThreatProtection": {
                "old_change_number": old_numbers["AzureAdvancedThreatProtection"],
                "new_change_number": new_numbers["AzureAdvancedThreatProtection"],
                "added": sorted(added, key=_numeric),
                "removed": sorted(removed, key=_numeric),
                "coverage": expected_coverage(
                    SAMPLE_OLD, SAMPLE_NEW, "AzureAdvancedThreatProtection"
                ),
            }
        },
    }


def test_exit_code_flag(runner: CliRunner, state_dir: Path) -> None:
    base = ["diff", "--exit-code", "--state-dir", str(state_dir), "--file", str(SAMPLE_NEW)]
    changed = runner.invoke(app, [*base, "--against", str(SAMPLE_OLD)])
    assert changed.exit_code == 1
    same = runner.invoke(app, [*base, "--against", str(SAMPLE_NEW)])
    assert same.exit_code == 0
    assert "no changes" in same.stdout
    unwatched = runner.invoke(
        app, [*base, "--against", str(SAMPLE_OLD), "--tag", "Storage.WestEurope"]
    )
    assert unwatched.exit_code == 0


def test_diff_against_snapshot_and_formats(runner: CliRunner, state_dir: Path) -> None:
    seeded = runner.invoke(
        app, ["update", "--file", str(SAMPLE_OLD), "--state-dir", str(state_dir)]
    )
    assert seeded.exit_code == 0, seeded.stderr
    for fmt in ("text", "markdown"):
        result = runner.invoke(
            app,
            ["diff", "--file", str(SAMPLE_NEW), "--state-dir", str(state_dir), "--format", fmt],
        )
        assert result.exit_code == 0, result.stderr
        assert "13.87.32.4/32" in result.stdout
        assert "51.143.192.112/29" in result.stdout
    markdown = runner.invoke(
        app,
        ["diff", "-f", str(SAMPLE_NEW), "--state-dir", str(state_dir), "--format", "markdown"],
    ).stdout
    assert "AzureAdvancedThreatProtection" in markdown and "| Tag |" in markdown


def test_bad_format_is_a_usage_error(runner: CliRunner, state_dir: Path) -> None:
    result = runner.invoke(
        app, ["diff", "-f", str(SAMPLE_NEW), "--format", "yaml", "--state-dir", str(state_dir)]
    )
    assert result.exit_code == 2


def test_regional_tags_and_whole_tag_removal(runner: CliRunner, tmp_path: Path) -> None:
    old = json.loads(SAMPLE_OLD.read_bytes())
    new = json.loads(SAMPLE_OLD.read_bytes())
    new["values"] = [v for v in new["values"] if v["name"] != "AzureCloud.northeurope"]
    new["changeNumber"] += 1
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old_path.write_text(json.dumps(old))
    new_path.write_text(json.dumps(new))
    result = runner.invoke(
        app,
        [
            "diff",
            "-f",
            str(new_path),
            "--against",
            str(old_path),
            "--tag",
            "AzureCloud",
            "--regions",
            "--format",
            "json",
            "--state-dir",
            str(tmp_path / "s"),
        ],
    )
    # AzureCloud itself is not in the sample: the base name must exist to be watched.
    assert result.exit_code == 3 and "no tag named 'AzureCloud'" in result.stderr
    result = runner.invoke(
        app,
        [
            "diff",
            "-f",
            str(new_path),
            "--against",
            str(old_path),
            "--tag",
            "AzureCloud.NorthEurope",
            "--format",
            "json",
            "--state-dir",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    gone = json.loads(result.stdout)["tags"]["AzureCloud.northeurope"]
    removed_expected = prefixes_by_tag(old_path)["AzureCloud.northeurope"]
    assert set(gone["removed"]) == removed_expected and gone["new_change_number"] is None
