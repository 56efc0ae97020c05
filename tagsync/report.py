"""Turn a ChangeSet into reports: terminal text, JSON for machines, Markdown for pull requests."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tagsync.diff import ChangeSet, TagChange

__all__ = ["FORMATS", "render_report", "to_json", "to_markdown", "to_text"]

FORMATS = ("text", "json", "markdown")
# Lists longer than this collapse into <details> in Markdown, so a PR body stays readable.
MARKDOWN_COLLAPSE_AFTER = 10


def _number(value: int | None) -> str:
    return "none" if value is None else str(value)


def to_text(changes: ChangeSet) -> str:
    head = (
        f"{changes.cloud}: changeNumber {_number(changes.old_change_number)} -> "
        f"{changes.new_change_number}"
    )
    if not changes.changed:
        return f"{head}: no changes in the compared tags\n"
    lines = [
        f"{head}: {len(changes.tags)} tag(s) changed, "
        f"+{changes.added_count} -{changes.removed_count} prefixes"
    ]
    for name in sorted(changes.tags):
        change = changes.tags[name]
        lines.append(
            f"{name} (tag changeNumber {_number(change.old_change_number)} -> "
            f"{_number(change.new_change_number)}): +{len(change.added)} -{len(change.removed)}"
        )
        lines.extend(f"  + {prefix}" for prefix in change.added)
        lines.extend(f"  - {prefix}" for prefix in change.removed)
        for key in sorted(change.property_changes):
            lines.append(f"  ~ properties {key}: {len(change.property_changes[key])} change(s)")
    return "\n".join(lines) + "\n"


def to_json(changes: ChangeSet) -> str:
    return json.dumps(changes.to_dict(), indent=2, sort_keys=False) + "\n"


def _code_list(prefixes: Sequence[str], title: str) -> list[str]:
    if not prefixes:
        return []
    body = ["```", *prefixes, "```"]
    if len(prefixes) <= MARKDOWN_COLLAPSE_AFTER:
        return [f"**{title} ({len(prefixes)})**", "", *body, ""]
    return [
        "<details>",
        f"<summary>{title} ({len(prefixes)})</summary>",
        "",
        *body,
        "",
        "</details>",
        "",
    ]


def _markdown_tag(change: TagChange) -> list[str]:
    lines = [f"### {change.name}", ""]
    lines += _code_list(change.added, "Added")
    lines += _code_list(change.removed, "Removed")
    if change.property_changes:
        lines += [
            "<details>",
            "<summary>Property changes</summary>",
            "",
            "```json",
            json.dumps(change.property_changes, indent=2, sort_keys=True),
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def to_markdown(changes: ChangeSet) -> str:
    """A pull request body: summary table, per-tag prefix lists, then what to do."""
    old, new = _number(changes.old_change_number), changes.new_change_number
    lines = [f"## Azure service tags: {changes.cloud} changeNumber {old} → {new}", ""]
    if not changes.changed:
        return "\n".join([*lines, "No changes in the compared tags.", ""])
    lines += [
        f"{len(changes.tags)} tag(s) changed: **+{changes.added_count}** added, "
        f"**-{changes.removed_count}** removed prefixes.",
        "",
        "| Tag | Added | Removed | Prefixes now | Tag changeNumber |",
        "|---|---:|---:|---:|---|",
    ]
    for name in sorted(changes.tags):
        change = changes.tags[name]
        lines.append(
            f"| `{name}` | {len(change.added)} | {len(change.removed)} | {change.new_count} | "
            f"{_number(change.old_change_number)} → {_number(change.new_change_number)} |"
        )
    lines.append("")
    for name in sorted(changes.tags):
        lines += _markdown_tag(changes.tags[name])
    lines += [
        "### What to do",
        "",
        "1. Review the added and removed prefixes above.",
        "2. Apply the regenerated firewall configs in this change (ipset/iptables, nftables, "
        "PAN-OS, Windows Firewall) or update your route filter notes.",
        "3. Merge once the rules are live, so the next weekly run diffs against them.",
        "",
    ]
    return "\n".join(lines)


def render_report(changes: ChangeSet, fmt: str) -> str:
    if fmt == "json":
        return to_json(changes)
    if fmt == "markdown":
        return to_markdown(changes)
    return to_text(changes)
