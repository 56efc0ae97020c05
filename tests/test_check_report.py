"""The Markdown change report for pull requests: `tagsync diff --format markdown`, --report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import public
from test_alert_support import expected_change
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.diff import ChangeSet, TagChange, diff_service_tags
from tagsync.model import parse_service_tags
from tagsync.report import MARKDOWN_COLLAPSE_AFTER, fit_markdown, to_markdown

ATP = "AzureAdvancedThreatProtection"
FRONT_DOOR = "AzureFrontDoor.Backend"
OLD, NEW = "20250728", "20251006"


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
    table = text.index("| Tag | Added | Removed |")
    lists = text.index("## Added and removed prefixes")
    todo = text.index("## What to do")
    assert table < lists < todo
    for tag in (ATP, FRONT_DOOR):
        added, removed = expected_change(public(OLD), public(NEW), tag)
        row = re.search(
            rf"^\| `{re.escape(tag)}` \| \+(\d+) \| -(\d+) \| (\d+) → (\d+) \|", text, re.M
        )
        assert row is not None
        assert (int(row[1]), int(row[2])) == (len(added), len(removed))
        section = text[text.index(f"### {tag}") :]
        assert all(prefix in section for prefix in added | removed)


def test_long_lists_collapse_short_lists_do_not(changes: ChangeSet) -> None:
    text = to_markdown(changes)
    front_door = text[text.index(f"### {FRONT_DOOR}") : text.index("## What to do")]
    added = len(changes.tags[FRONT_DOOR].added)
    assert added > MARKDOWN_COLLAPSE_AFTER
    assert f"<details>\n<summary>Added ({added})</summary>" in front_door
    atp = text[text.index(f"### {ATP}") : text.index(f"### {FRONT_DOOR}")]
    assert "<details>" not in atp and "**Added (5)**" in atp and "**Removed (1)**" in atp


def test_what_to_do_names_the_regenerated_files(changes: ChangeSet) -> None:
    text = to_markdown(changes, files=["nftables/tagsync.nft", "windows/rules.ps1"])
    todo = text[text.index("## What to do") :]
    assert "`nftables/tagsync.nft`, `windows/rules.ps1`" in todo
    assert f"{changes.removed_count} prefix(es) left the watched tags" in todo


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
