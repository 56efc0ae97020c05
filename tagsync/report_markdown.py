"""The Markdown change report for pull requests and alerts' Markdown bodies.

Same content as the terminal text (coverage first, deploy-by, re-aggregation notes, flaps), laid
out for review: a table per change, long lists collapsed, and every value from the file inside
code spans or fences built so that data can never close them early or inject markup.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from tagsync.coverage import AddressCounts, count_text
from tagsync.diff import ChangeSet, TagChange
from tagsync.report import (
    address_tags,
    cidr_total,
    counted,
    deploy_by_text,
    note_only_tags,
    number_text,
    reaggregation_note,
    version_text,
)

__all__ = ["MARKDOWN_COLLAPSE_AFTER", "fit_markdown", "to_markdown"]

# Lists longer than this collapse into <details> in Markdown, so a PR body stays readable.
MARKDOWN_COLLAPSE_AFTER = 10
_SAFE_CODE = re.compile(r"[A-Za-z0-9._:/-]+")


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
    lines += _code_list(change.coverage.gained, "Now reachable", limit)
    lines += _code_list(change.coverage.lost, "No longer reachable", limit)
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


def _reaggregation_notes(changes: ChangeSet, limit: int | None) -> list[str]:
    notes = note_only_tags(changes)
    if not notes:
        return []
    shown = notes if limit is None else notes[:limit]
    lines = ["## Re-aggregated, same addresses", ""]
    for change in shown:
        lines.append(
            f"- {_code(change.name)}: {reaggregation_note(change)} "
            f"({change.old_count} → {change.new_count} prefixes)"
        )
    if len(shown) < len(notes):
        lines.append(f"- ... and {len(notes) - len(shown)} more (see tagsync diff)")
    return [*lines, ""]


def _flap_lines(changes: ChangeSet) -> list[str]:
    if not changes.flaps:
        return []
    intro = "Ranges this version brings back or takes away again within the kept history:"
    return ["## Flaps", "", intro, "", *(f"- {_cell(flap.text)}" for flap in changes.flaps), ""]


def _signed(sign: str, counts: AddressCounts) -> list[str]:
    return [
        f"{sign}{count_text(count)} {family}"
        for family, count in (("IPv4", counts.ipv4), ("IPv6", counts.ipv6))
        if count
    ]


def _table_row(change: TagChange) -> str:
    coverage = change.coverage
    addresses = "; ".join(
        ", ".join(parts)
        for parts in (
            _signed("+", coverage.gained_addresses),
            _signed("-", coverage.lost_addresses),
        )
        if parts
    )
    return (
        f"| {_code(change.name)} | +{len(coverage.gained)} | -{len(coverage.lost)} | "
        f"{change.old_count} → {change.new_count} | {addresses or 'same'} | "
        f"{number_text(change.old_change_number)} → {number_text(change.new_change_number)} |"
    )


def _what_to_do(changes: ChangeSet, files: Sequence[str]) -> list[str]:
    lines = ["## What to do", ""]
    if changes.old_change_number is None:
        lines.append(
            "- This is the first accepted version: every address counts as gained. "
            "Check that the generated rules match what your firewalls allow today."
        )
    tags = changes.tags.values()
    gaining = sum(bool(change.coverage.gained) for change in tags)
    if gaining:
        deploy_by = deploy_by_text(changes)
        when = f" by {deploy_by}, when Microsoft may start using them" if deploy_by else ""
        lines.append(
            f"- {counted(changes.gained_count, 'CIDR')} became reachable "
            f"({changes.gained_addresses.text()} in {counted(gaining, 'tag')}): allow them"
            f"{when}. Until the regenerated rules are applied, traffic to them is blocked."
        )
    losing = sum(bool(change.coverage.lost) for change in tags)
    if losing:
        lines.append(
            f"- {counted(changes.lost_count, 'CIDR')} stopped being reachable "
            f"({changes.lost_addresses.text()} in {counted(losing, 'tag')}): Microsoft no "
            "longer uses these addresses for these services, so they can be removed from allow "
            "rules once the new rules are live (they may be reassigned to someone else)."
        )
    if changes.reaggregated:
        lines.append(
            f"- {counted(len(changes.reaggregated), 'tag')} only re-aggregated (same addresses): "
            "nothing to allow or remove. Firewalls that list prefixes one by one (ipsets, "
            "address objects) just take the re-rendered configs."
        )
    with_properties = sum(bool(change.property_changes) for change in tags)
    if with_properties:
        lines.append(
            f"- Other properties changed in {counted(with_properties, 'tag')}: see their "
            "details above and check whether your rules depend on them."
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
    """A pull request body: totals, a table of the tags whose addresses (or other properties)
    changed, their gained and lost CIDRs, one line per re-aggregated tag, then what to do.

    ``max_prefixes`` caps each CIDR list and the re-aggregation notes (PR bodies have a size
    limit); ``files`` names the regenerated configs to apply.
    """
    numbers = version_text(changes.old_change_number, changes.new_change_number, "→")
    lines = [f"## Azure service tags: {_cell(changes.cloud)} {numbers}", ""]
    if not changes.changed:
        return "\n".join([*lines, "No changes in the compared tags.", ""])
    gained = cidr_total("+", changes.gained_count, changes.gained_addresses)
    lost = cidr_total("-", changes.lost_count, changes.lost_addresses)
    deploy_by = deploy_by_text(changes)
    lines += [
        f"{counted(len(changes.tags), 'watched tag')} changed. Now reachable: **{gained}**. "
        + (f"Deploy by: **{deploy_by}**. " if deploy_by else "")
        + f"No longer reachable: **{lost}**. "
        f"Re-aggregated with the same addresses: {counted(len(changes.reaggregated), 'tag')}. "
        f"Prefix texts: +{changes.added_count} -{changes.removed_count}.",
        "",
    ]
    shown = address_tags(changes)
    if shown:
        lines += [
            "| Tag | Gained CIDRs | Lost CIDRs | Prefixes before → after | Addresses gained, lost "
            "| Tag changeNumber |",
            "|---|---:|---:|---:|---|---|",
            *(_table_row(change) for change in shown),
            "",
            "## Addresses gained and lost",
            "",
        ]
        for change in shown:
            lines += _markdown_tag(change, max_prefixes)
    lines += _reaggregation_notes(changes, max_prefixes)
    lines += _flap_lines(changes)
    lines += _what_to_do(changes, files)
    return "\n".join(lines)


def fit_markdown(changes: ChangeSet, max_chars: int, *, files: Sequence[str] = ()) -> str:
    """The Markdown report, with CIDR lists cut shorter until it fits in ``max_chars``.

    When even empty lists do not fit (a release touching most tags), the middle is cut and
    "What to do" is kept: it says which addresses to allow and which can go.
    """
    for limit in (None, 500, 100, 20, 0):
        text = to_markdown(changes, max_prefixes=limit, files=files)
        if len(text) <= max_chars:
            return text
    cut = "\n\n... (report cut; see tagsync diff)\n"
    head, found, todo = text.partition("\n## What to do")
    tail = f"\n## What to do{todo}" if found else ""
    if len(cut) + len(tail) + 200 > max_chars:
        tail = ""
    room = max_chars - len(cut) - len(tail)
    return head[:room].rsplit("\n", 1)[0] + cut + tail
