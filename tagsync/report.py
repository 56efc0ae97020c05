"""Turn a ChangeSet into reports: terminal text, JSON for machines, Markdown for pull requests."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from tagsync.diff import ChangeSet, TagChange

__all__ = [
    "FORMATS",
    "fit_markdown",
    "number_text",
    "render_report",
    "to_json",
    "to_markdown",
    "to_text",
]

FORMATS = ("text", "json", "markdown")
# Lists longer than this collapse into <details> in Markdown, so a PR body stays readable.
MARKDOWN_COLLAPSE_AFTER = 10
_SAFE_CODE = re.compile(r"[A-Za-z0-9._:/-]+")


def number_text(value: int | None) -> str:
    """A changeNumber for people: "none" before the first accepted version."""
    return "none" if value is None else str(value)


def to_text(changes: ChangeSet) -> str:
    head = (
        f"{changes.cloud}: changeNumber {number_text(changes.old_change_number)} -> "
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
            f"{name} (tag changeNumber {number_text(change.old_change_number)} -> "
            f"{number_text(change.new_change_number)}): +{len(change.added)} -{len(change.removed)}"
        )
        lines.extend(f"  + {prefix}" for prefix in change.added)
        lines.extend(f"  - {prefix}" for prefix in change.removed)
        for key in sorted(change.property_changes):
            lines.append(f"  ~ properties {key}: {len(change.property_changes[key])} change(s)")
    return "\n".join(lines) + "\n"


def to_json(changes: ChangeSet) -> str:
    return json.dumps(changes.to_dict(), indent=2, sort_keys=False) + "\n"


def _fence(text: str, info: str = "") -> list[str]:
    """A code fence longer than any backtick run inside, so data can never close it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{info}", text, ticks]


def _cell(text: str) -> str:
    """Untrusted text made literal: HTML escaped, table pipes and backticks neutralised."""
    return html.escape(text).replace("|", "\\|").replace("`", "\\`")


def _code(text: str) -> str:
    """Inline code for names that are safe in a code span (escapes do not work inside one)."""
    return f"`{text}`" if _SAFE_CODE.fullmatch(text) else _cell(text)


def _code_list(prefixes: Sequence[str], title: str, limit: int | None) -> list[str]:
    if not prefixes:
        return []
    shown = list(prefixes if limit is None else prefixes[:limit])
    if len(shown) < len(prefixes):
        shown.append(f"# ... and {len(prefixes) - len(shown)} more (see tagsync diff)")
    body = _fence("\n".join(shown))
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


def _markdown_tag(change: TagChange, limit: int | None) -> list[str]:
    lines = [f"### {_cell(change.name)}", ""]
    lines += _code_list(change.added, "Added", limit)
    lines += _code_list(change.removed, "Removed", limit)
    if change.property_changes:
        lines += [
            "<details>",
            "<summary>Other property changes</summary>",
            "",
            *_fence(json.dumps(change.property_changes, indent=2, sort_keys=True), "json"),
            "",
            "</details>",
            "",
        ]
    return lines


def _what_to_do(changes: ChangeSet, files: Sequence[str]) -> list[str]:
    lines = ["## What to do", ""]
    if changes.old_change_number is None:
        lines.append(
            "- This is the first accepted version: every prefix counts as added. "
            "Check that the generated rules match what your firewalls allow today."
        )
    if changes.removed_count:
        lines.append(
            f"- {changes.removed_count} prefix(es) left the watched tags: Microsoft no longer "
            "uses them for these services, so remove them from allow rules once the new rules "
            "are live (traffic to them may start failing or reach someone else)."
        )
    if changes.added_count:
        lines.append(
            f"- {changes.added_count} prefix(es) joined: until the new rules are applied, "
            "traffic to them is blocked."
        )
    if files:
        listed = ", ".join(_code(name) for name in files)
        lines.append(f"- Apply the regenerated configs in this change: {listed}.")
    else:
        lines.append(
            "- Apply the regenerated configs (`tagsync render`): ipset/iptables, nftables, "
            "PAN-OS, Windows Firewall, ExpressRoute route filter notes."
        )
    lines += [
        "- Merge once the rules are live, so the next run compares against them.",
        "",
    ]
    return lines


def to_markdown(
    changes: ChangeSet, *, max_prefixes: int | None = None, files: Sequence[str] = ()
) -> str:
    """A pull request body: summary table per tag, the prefix lists, then what to do.

    ``max_prefixes`` caps each list (PR bodies have a size limit); ``files`` names the
    regenerated configs to apply.
    """
    old, new = number_text(changes.old_change_number), changes.new_change_number
    lines = [f"## Azure service tags: {_cell(changes.cloud)} changeNumber {old} → {new}", ""]
    if not changes.changed:
        return "\n".join([*lines, "No changes in the compared tags.", ""])
    lines += [
        f"{len(changes.tags)} watched tag(s) changed: **+{changes.added_count}** added, "
        f"**-{changes.removed_count}** removed prefixes.",
        "",
        "| Tag | Added | Removed | Prefixes before → after | Tag changeNumber |",
        "|---|---:|---:|---:|---|",
    ]
    for name in sorted(changes.tags):
        change = changes.tags[name]
        lines.append(
            f"| {_code(name)} | +{len(change.added)} | -{len(change.removed)} | "
            f"{change.old_count} → {change.new_count} | "
            f"{number_text(change.old_change_number)} → {number_text(change.new_change_number)} |"
        )
    lines += ["", "## Added and removed prefixes", ""]
    for name in sorted(changes.tags):
        lines += _markdown_tag(changes.tags[name], max_prefixes)
    lines += _what_to_do(changes, files)
    return "\n".join(lines)


def fit_markdown(changes: ChangeSet, max_chars: int, *, files: Sequence[str] = ()) -> str:
    """The Markdown report, with prefix lists cut shorter until it fits in ``max_chars``."""
    for limit in (None, 500, 100, 20, 0):
        text = to_markdown(changes, max_prefixes=limit, files=files)
        if len(text) <= max_chars:
            return text
    return text[: max_chars - 60].rsplit("\n", 1)[0] + "\n\n... (report cut; see tagsync diff)\n"


def render_report(changes: ChangeSet, fmt: str) -> str:
    if fmt == "json":
        return to_json(changes)
    if fmt == "markdown":
        return to_markdown(changes)
    return to_text(changes)
