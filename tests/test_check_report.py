"""The Markdown change report for pull requests: `tagsync diff --format markdown`, --report."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import public
from test_alert_support import expected_change, expected_coverage, raw_prefixes, sibling_pair
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.diff import ChangeSet, TagChange, diff_service_tags, diff_tags
from tagsync.model import parse_service_tags
from tagsync.report import to_json, to_text
from tagsync.report_markdown import MARKDOWN_COLLAPSE_AFTER, fit_markdown, to_markdown

ATP = "AzureAdvancedThreatProtection"
FRONT_DOOR = "AzureFrontDoor.Backend"
OLD, NEW = "20250728", "20251006"
PULL_REQUEST_LIMIT = 60_000  # GitHub refuses longer pull-request bodies (65,536), with margin


@pytest.fixture(scope="module")
def changes() -> ChangeSet:
    old, new = (parse_service_tags(public(d).read_bytes()) for d in (OLD, NEW))
    return diff_service_tags(old, new, [ATP, FRONT_DOOR])


def test_diff_format_markdown_from_the_cli(runner: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = runner.invoke(app, ["update", "--file", str(public(OLD)), "--state-dir", str(state)])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(
        app,
        [
            "diff",
            "--format",
            "markdown",
            "--file",
            str(public(NEW)),
            "--state-dir",
            str(state),
            "-t",
            ATP,
            "-t",
            FRONT_DOOR,
        ],
    )
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    table = text.index("| Tag | Gained CIDRs | Lost CIDRs |")
    lists = text.index("## Addresses gained and lost")
    todo = text.index("## What to do")
    assert table < lists < todo
    for tag in (ATP, FRONT_DOOR):
        coverage = expected_coverage(public(OLD), public(NEW), tag)
        before, after = len(raw_prefixes(public(OLD), tag)), len(raw_prefixes(public(NEW), tag))
        row = re.search(
            rf"^\| `{re.escape(tag)}` \| \+(\d+) \| -(\d+) \| (\d+) → (\d+) \|", text, re.M
        )
        assert row is not None
        assert (int(row[1]), int(row[2])) == (len(coverage["gained"]), len(coverage["lost"]))
        assert (int(row[3]), int(row[4])) == (before, after)
        section = text[text.index(f"### {tag}") :]
        assert all(cidr in section for cidr in coverage["gained"] + coverage["lost"])
    gained = sum(
        len(expected_coverage(public(OLD), public(NEW), t)["gained"]) for t in (ATP, FRONT_DOOR)
    )
    assert f"Now reachable: **+{gained} CIDRs (" in text


def test_long_lists_collapse_short_lists_do_not(changes: ChangeSet) -> None:
    text = to_markdown(changes)
    front_door = text[text.index(f"### {FRONT_DOOR}") : text.index("## What to do")]
    gained = len(expected_coverage(public(OLD), public(NEW), FRONT_DOOR)["gained"])
    assert gained > MARKDOWN_COLLAPSE_AFTER
    assert f"<details>\n<summary>Now reachable ({gained})</summary>" in front_door
    atp = text[text.index(f"### {ATP}") : text.index(f"### {FRONT_DOOR}")]
    coverage = expected_coverage(public(OLD), public(NEW), ATP)
    assert 0 < len(coverage["gained"]) <= MARKDOWN_COLLAPSE_AFTER
    assert "<details>" not in atp
    assert f"**Now reachable ({len(coverage['gained'])})**" in atp
    assert f"**No longer reachable ({len(coverage['lost'])})**" in atp


def test_what_to_do_names_the_regenerated_files(changes: ChangeSet) -> None:
    text = to_markdown(changes, files=["nftables/tagsync.nft", "windows/rules.ps1"])
    todo = text[text.index("## What to do") :]
    assert "`nftables/tagsync.nft`, `windows/rules.ps1`" in todo
    gained = [expected_coverage(public(OLD), public(NEW), t)["gained"] for t in (ATP, FRONT_DOOR)]
    lost = [expected_coverage(public(OLD), public(NEW), t)["lost"] for t in (ATP, FRONT_DOOR)]
    assert f"- {sum(map(len, gained))} CIDRs became reachable (" in todo
    assert "in 2 tags): allow them" in todo
    assert f"- {sum(map(len, lost))} CIDRs stopped being reachable (" in todo
    assert "can be removed from allow rules" in todo
    assert "re-aggregated" not in todo  # every change here moves addresses


def test_no_change_report(changes: ChangeSet) -> None:
    quiet = ChangeSet("Public", 372, 372, {})
    assert to_markdown(quiet).endswith("No changes in the compared tags.\n")


def test_untrusted_text_cannot_break_out_of_fences_or_tables() -> None:
    hostile = TagChange(
        name="Evil|`name`",
        old_change_number=1,
        new_change_number=2,
        property_changes={"values_changed": {"x": "```\n<script>alert(1)</script>"}},
    )
    text = to_markdown(ChangeSet("Public", 1, 2, {hostile.name: hostile}))
    assert "| Evil\\|\\`name\\` |" in text
    fence = re.search(r"^(`{4,})json$", text, re.M)
    assert fence is not None  # longer than the three backticks inside the data
    assert "<script>" not in text.split(fence[1] + "json")[0]


def test_fit_markdown_shortens_lists_to_the_limit(changes: ChangeSet) -> None:
    full = to_markdown(changes)
    assert fit_markdown(changes, len(full)) == full
    short = fit_markdown(changes, len(full) - 100)
    assert len(short) <= len(full) - 100
    assert "more (see tagsync diff)" in short
    assert "## What to do" in short
    tiny = fit_markdown(changes, 200)
    assert len(tiny) <= 200


def test_a_release_touching_most_tags_fits_a_pull_request_and_keeps_what_to_do() -> None:
    # 20221212 -> 20240819 changes well over a thousand tags: even empty lists overflow.
    old, new = (parse_service_tags(public(d).read_bytes()) for d in ("20221212", "20240819"))
    changes = diff_service_tags(old, new)
    assert len(to_markdown(changes, max_prefixes=0)) > PULL_REQUEST_LIMIT
    text = fit_markdown(changes, PULL_REQUEST_LIMIT)
    assert len(text) <= PULL_REQUEST_LIMIT
    assert "... (report cut; see tagsync diff)\n\n## What to do" in text
    assert text.endswith("so the next run compares against them.\n")


def test_text_report_leads_with_coverage(changes: ChangeSet) -> None:
    text = to_text(changes)
    lines = text.splitlines()
    gained = {
        t: expected_coverage(public(OLD), public(NEW), t)["gained"] for t in (ATP, FRONT_DOOR)
    }
    lost = {t: expected_coverage(public(OLD), public(NEW), t)["lost"] for t in (ATP, FRONT_DOOR)}
    assert lines[1] == f"  now reachable: +{sum(map(len, gained.values()))} CIDRs " + (
        f"({changes.gained_addresses.text()})"
    )
    atp = text[text.index(f"{ATP} (tag changeNumber") : text.index(f"{FRONT_DOOR} (tag")]
    assert [line[4:] for line in atp.splitlines() if line.startswith("  + ")] == gained[ATP]
    assert [line[4:] for line in atp.splitlines() if line.startswith("  - ")] == lost[ATP]
    added, removed = expected_change(public(OLD), public(NEW), ATP)
    assert f"prefix texts +{len(added)} -{len(removed)}" in atp


def reaggregated_cloud() -> TagChange:
    """AzureCloud with two real adjacent halves replaced by their parent: same addresses."""
    old = parse_service_tags(public(NEW).read_bytes()).tags["AzureCloud"]
    low, high, parent = sibling_pair(old.prefixes, 4)
    kept = tuple(p for p in old.prefixes if p not in (low, high))
    return diff_tags(old.name, old, replace(old, prefixes=(*kept, parent)))


def test_a_reaggregation_is_one_line_and_needs_no_rule_change() -> None:
    change = reaggregated_cloud()
    changes = ChangeSet("Public", 1, 2, {change.name: change})
    note = "3 prefixes re-aggregated, same addresses"
    text = to_text(changes)
    assert f"AzureCloud (tag changeNumber {change.old_change_number} -> " in text
    assert text.rstrip().endswith(note)
    assert "  + " not in text and "  - " not in text
    markdown = to_markdown(changes)
    assert f"- `AzureCloud`: {note} ({change.old_count} → {change.new_count} prefixes)" in markdown
    assert "## Addresses gained and lost" not in markdown  # nothing to allow or remove
    todo = markdown[markdown.index("## What to do") :]
    assert "1 tag only re-aggregated (same addresses): nothing to allow or remove" in todo
    assert "became reachable" not in todo and "stopped being reachable" not in todo


def test_json_report_carries_coverage_per_tag(changes: ChangeSet) -> None:
    document = json.loads(to_json(changes))
    for tag in (ATP, FRONT_DOOR):
        entry = document["tags"][tag]
        assert set(entry) == {
            "old_change_number",
            "new_change_number",
            "added",
            "removed",
            "coverage",
        }
        assert entry["coverage"] == expected_coverage(public(OLD), public(NEW), tag)
