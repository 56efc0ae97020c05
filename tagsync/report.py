"""Turn a ChangeSet into reports: terminal text, JSON for machines, Markdown for pull requests.

Reports lead with coverage: the CIDRs that became reachable and those that stopped being
reachable. A tag whose prefix texts changed but whose addresses did not (a re-aggregation) gets a
one-line note; the prefix texts themselves are counted, and listed in the JSON.

When the new version's publication is known, gained addresses come with a deploy-by date
(publication + 7 days: Microsoft does not use new ranges before), marked when the publication
is only the acceptance day. Flaps (ranges this version brings back or takes away again within
the kept history) get one line each.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from tagsync.coverage import AddressCounts, Coverage, count_text
from tagsync.diff import ChangeSet, TagChange
from tagsync.published import DEPLOY_AFTER, Publication

__all__ = [
    "FORMATS",
    "coverage_text",
    "deploy_by_text",
    "fit_markdown",
    "number_text",
    "publication_text",
    "reaggregation_note",
    "render_report",
    "tag_version_text",
    "to_json",
    "to_markdown",
    "to_text",
    "totals_text",
    "version_text",
]

FORMATS = ("text", "json", "markdown")
# Lists longer than this collapse into <details> in Markdown, so a PR body stays readable.
MARKDOWN_COLLAPSE_AFTER = 10
_SAFE_CODE = re.compile(r"[A-Za-z0-9._:/-]+")


def number_text(value: int | None) -> str:
    """A changeNumber for people: "new" where there was none (a first version, a new tag)."""
    return "new" if value is None else str(value)


def version_text(old: int | None, new: int, arrow: str = "->") -> str:
    """``changeNumber 363 -> 364``, or ``changeNumber 364 (first accepted version)``."""
    if old is None:
        return f"changeNumber {new} (first accepted version)"
    return f"changeNumber {old} {arrow} {new}"


def tag_version_text(old: int | None, new: int | None, arrow: str = "->") -> str:
    """A tag's changeNumbers: ``tag changeNumber 5 -> 6``, ``new tag, changeNumber 1`` or
    ``tag gone, was changeNumber 5``."""
    if old is None:
        return f"new tag, changeNumber {number_text(new)}"
    if new is None:
        return f"tag gone, was changeNumber {old}"
    return f"tag changeNumber {old} {arrow} {new}"


def _counted(count: int, noun: str, plural: str = "") -> str:
    """A count with its noun: "1 CIDR", "2 CIDRs", "2 prefixes" (``plural`` when not noun+s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def coverage_text(coverage: Coverage) -> str:
    """What a tag's addresses did, in words: "gained 16 IPv4 addresses in 2 CIDRs, lost ..."."""
    parts = [
        f"{verb} {counts.text()} in {_counted(len(cidrs), 'CIDR')}"
        for verb, cidrs, counts in (
            ("gained", coverage.gained, coverage.gained_addresses),
            ("lost", coverage.lost, coverage.lost_addresses),
        )
        if cidrs
    ]
    return ", ".join(parts) or "same addresses"


def publication_text(published: Publication) -> str:
    """ "published 2025-10-06", or "published ≈ accepted 2026-01-05, file name had no date"."""
    day = published.date.isoformat()
    if published.is_from_file_name:
        return f"published {day}"
    return f"published ≈ accepted {day}, file name had no date"


def deploy_by_text(changes: ChangeSet) -> str | None:
    """ "2025-10-13 (published 2025-10-06 + 7 days)" when addresses were gained and the
    publication is known: the first day Microsoft may use them."""
    if changes.deploy_by is None or changes.published is None:
        return None
    days = DEPLOY_AFTER.days
    return f"{changes.deploy_by.isoformat()} ({publication_text(changes.published)}; + {days} days)"


def reaggregation_note(change: TagChange) -> str:
    """The one line a re-aggregated tag gets: its texts changed, its addresses did not."""
    texts = len(change.added) + len(change.removed)
    return f"{_counted(texts, 'prefix', 'prefixes')} re-aggregated, same addresses"


def _address_tags(changes: ChangeSet) -> list[TagChange]:
    """The tags to show in full: addresses or other properties changed."""
    return [
        changes.tags[name] for name in sorted(changes.tags) if changes.tags[name].coverage_changed
    ]


def _note_only_tags(changes: ChangeSet) -> list[TagChange]:
    """The tags that only re-aggregated: one line each (a re-aggregated tag whose other
    properties changed is shown in full instead)."""
    return [
        changes.tags[name]
        for name in changes.reaggregated
        if not changes.tags[name].coverage_changed
    ]


def _cidr_total(sign: str, cidrs: int, addresses: AddressCounts) -> str:
    """A total for people: "+3 CIDRs (40 IPv4 addresses)", or "none"."""
    return f"{sign}{_counted(cidrs, 'CIDR')} ({addresses.text()})" if cidrs else "none"


def totals_text(changes: ChangeSet) -> str:
    """One line for summaries, addresses first: "gained 8 IPv4 addresses in 1 CIDR, lost ...
    in watched tags (prefix texts +1 -1)"."""
    parts = [
        f"{verb} {counts.text()} in {_counted(cidrs, 'CIDR')}"
        for verb, cidrs, counts in (
            ("gained", changes.gained_count, changes.gained_addresses),
            ("lost", changes.lost_count, changes.lost_addresses),
        )
        if cidrs
    ]
    return (
        f"{', '.join(parts) or 'no address gained or lost'} in watched tags "
        f"(prefix texts +{changes.added_count} -{changes.removed_count})"
    )


def _totals_lines(changes: ChangeSet) -> list[str]:
    gained, lost = changes.gained_addresses, changes.lost_addresses
    deploy_by = deploy_by_text(changes)
    return [
        f"  now reachable: {_cidr_total('+', changes.gained_count, gained)}",
        *([f"  deploy by: {deploy_by}"] if deploy_by else []),
        f"  no longer reachable: {_cidr_total('-', changes.lost_count, lost)}",
        f"  re-aggregated, same addresses: {_counted(len(changes.reaggregated), 'tag')}",
        f"  prefix texts: +{changes.added_count} -{changes.removed_count}",
    ]


def _listed(sign: str, cidrs: Sequence[str], limit: int | None) -> list[str]:
    shown = cidrs if limit is None else cidrs[:limit]
    lines = [f"  {sign} {cidr}" for cidr in shown]
    if len(shown) < len(cidrs):
        lines.append(f"  {sign} ... and {len(cidrs) - len(shown)} more (`tagsync diff` lists all)")
    return lines


def to_text(changes: ChangeSet, *, limit: int | None = None) -> str:
    """Terminal text: totals, then per tag the CIDRs gained (+) and lost (-); a re-aggregated
    tag gets one line. Prefix texts are counted, not listed (the JSON lists them).

    ``limit``: list at most this many CIDRs per tag and direction (cron mail, like alerts).
    """
    head = f"{changes.cloud}: {version_text(changes.old_change_number, changes.new_change_number)}"
    if not changes.changed:
        return f"{head}: no changes in the compared tags\n"
    lines = [f"{head}: {_counted(len(changes.tags), 'tag')} changed", *_totals_lines(changes)]
    for change in _address_tags(changes):
        lines.append(
            f"{change.name} ({tag_version_text(change.old_change_number, change.new_change_number)}"
            f"): {coverage_text(change.coverage)}; "
            f"prefix texts +{len(change.added)} -{len(change.removed)} "
            f"({change.old_count} -> {change.new_count})"
        )
        lines.extend(_listed("+", change.coverage.gained, limit))
        lines.extend(_listed("-", change.coverage.lost, limit))
        for key in sorted(change.property_changes):
            lines.append(f"  ~ properties {key}: {len(change.property_changes[key])} change(s)")
    for change in _note_only_tags(changes):
        lines.append(
            f"{change.name} ({tag_version_text(change.old_change_number, change.new_change_number)}"
            f"): {reaggregation_note(change)}"
        )
    if changes.flaps:
        lines.append(f"flaps within the kept history: {_counted(len(changes.flaps), 'range')}")
        lines.extend(f"  ~ {flap.text}" for flap in changes.flaps)
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
    notes = _note_only_tags(changes)
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
            f"- {_counted(changes.gained_count, 'CIDR')} became reachable "
            f"({changes.gained_addresses.text()} in {_counted(gaining, 'tag')}): allow them"
            f"{when}. Until the regenerated rules are applied, traffic to them is blocked."
        )
    losing = sum(bool(change.coverage.lost) for change in tags)
    if losing:
        lines.append(
            f"- {_counted(changes.lost_count, 'CIDR')} stopped being reachable "
            f"({changes.lost_addresses.text()} in {_counted(losing, 'tag')}): Microsoft no "
            "longer uses these addresses for these services, so they can be removed from allow "
            "rules once the new rules are live (they may be reassigned to someone else)."
        )
    if changes.reaggregated:
        lines.append(
            f"- {_counted(len(changes.reaggregated), 'tag')} only re-aggregated (same addresses): "
            "nothing to allow or remove. Firewalls that list prefixes one by one (ipsets, "
            "address objects) just take the re-rendered configs."
        )
    with_properties = sum(bool(change.property_changes) for change in tags)
    if with_properties:
        lines.append(
            f"- Other properties changed in {_counted(with_properties, 'tag')}: see their "
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
    gained = _cidr_total("+", changes.gained_count, changes.gained_addresses)
    lost = _cidr_total("-", changes.lost_count, changes.lost_addresses)
    deploy_by = deploy_by_text(changes)
    lines += [
        f"{_counted(len(changes.tags), 'watched tag')} changed. Now reachable: **{gained}**. "
        + (f"Deploy by: **{deploy_by}**. " if deploy_by else "")
        + f"No longer reachable: **{lost}**. "
        f"Re-aggregated with the same addresses: {_counted(len(changes.reaggregated), 'tag')}. "
        f"Prefix texts: +{changes.added_count} -{changes.removed_count}.",
        "",
    ]
    shown = _address_tags(changes)
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


def render_report(changes: ChangeSet, fmt: str) -> str:
    if fmt == "json":
        return to_json(changes)
    if fmt == "markdown":
        return to_markdown(changes)
    return to_text(changes)
