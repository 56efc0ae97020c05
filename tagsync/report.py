"""Turn a ChangeSet into reports: terminal text, JSON for machines, Markdown for pull requests.

Reports lead with coverage: the CIDRs that became reachable and those that stopped being
reachable. A tag whose prefix texts changed but whose addresses did not (a re-aggregation) gets a
one-line note; the prefix texts themselves are counted, and listed in the JSON.

When the new version's publication is known, gained addresses come with a deploy-by date
(publication + 7 days: Microsoft does not use new ranges before), marked when the publication
is only the acceptance day. Flaps (ranges this version brings back or takes away again within
the kept history) get one line each. The Markdown report is in tagsync.report_markdown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tagsync.coverage import AddressCounts, Coverage
from tagsync.diff import ChangeSet, TagChange
from tagsync.published import DEPLOY_AFTER, Publication
from tagsync.words import counted

__all__ = [
    "FORMATS",
    "address_tags",
    "cidr_total",
    "counted",
    "coverage_text",
    "deploy_by_text",
    "note_only_tags",
    "number_text",
    "publication_text",
    "reaggregation_note",
    "render_report",
    "tag_version_text",
    "to_json",
    "to_text",
    "totals_text",
    "version_text",
]

FORMATS = ("text", "json", "markdown")


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


def coverage_text(coverage: Coverage) -> str:
    """What a tag's addresses did, in words: "gained 16 IPv4 addresses in 2 CIDRs, lost ..."."""
    parts = [
        f"{verb} {counts.text()} in {counted(len(cidrs), 'CIDR')}"
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
    return f"{counted(texts, 'prefix', 'prefixes')} re-aggregated, same addresses"


def address_tags(changes: ChangeSet) -> list[TagChange]:
    """The tags to show in full: addresses or other properties changed."""
    return [
        changes.tags[name] for name in sorted(changes.tags) if changes.tags[name].coverage_changed
    ]


def note_only_tags(changes: ChangeSet) -> list[TagChange]:
    """The tags that only re-aggregated: one line each (a re-aggregated tag whose other
    properties changed is shown in full instead)."""
    return [
        changes.tags[name]
        for name in changes.reaggregated
        if not changes.tags[name].coverage_changed
    ]


def cidr_total(sign: str, cidrs: int, addresses: AddressCounts) -> str:
    """A total for people: "+3 CIDRs (40 IPv4 addresses)", or "none"."""
    return f"{sign}{counted(cidrs, 'CIDR')} ({addresses.text()})" if cidrs else "none"


def totals_text(changes: ChangeSet) -> str:
    """One line for summaries, addresses first: "gained 8 IPv4 addresses in 1 CIDR, lost ...
    in watched tags (prefix texts +1 -1)"."""
    parts = [
        f"{verb} {counts.text()} in {counted(cidrs, 'CIDR')}"
        for verb, cidrs, counts in (
            ("gained", changes.gained_count, changes.gained_addresses),
            ("lost", changes.lost_count, changes.lost_addresses),
        )
        if cidrs
    ]
    return (
        f"{', '.join(parts) or 'no address gained or lost'} in watched tags "
        f"(prefix texts +{changes.added_count:,} -{changes.removed_count:,})"
    )


def _totals_lines(changes: ChangeSet) -> list[str]:
    gained, lost = changes.gained_addresses, changes.lost_addresses
    deploy_by = deploy_by_text(changes)
    return [
        f"  now reachable: {cidr_total('+', changes.gained_count, gained)}",
        *([f"  deploy by: {deploy_by}"] if deploy_by else []),
        f"  no longer reachable: {cidr_total('-', changes.lost_count, lost)}",
        f"  re-aggregated, same addresses: {counted(len(changes.reaggregated), 'tag')}",
        f"  prefix texts: +{changes.added_count:,} -{changes.removed_count:,}",
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
    lines = [f"{head}: {counted(len(changes.tags), 'tag')} changed", *_totals_lines(changes)]
    for change in address_tags(changes):
        lines.append(
            f"{change.name} ({tag_version_text(change.old_change_number, change.new_change_number)}"
            f"): {coverage_text(change.coverage)}; "
            f"prefix texts +{len(change.added):,} -{len(change.removed):,} "
            f"({change.old_count} -> {change.new_count})"
        )
        lines.extend(_listed("+", change.coverage.gained, limit))
        lines.extend(_listed("-", change.coverage.lost, limit))
        for key in sorted(change.property_changes):
            count = counted(len(change.property_changes[key]), "change")
            lines.append(f"  ~ properties {key}: {count}")
    for change in note_only_tags(changes):
        lines.append(
            f"{change.name} ({tag_version_text(change.old_change_number, change.new_change_number)}"
            f"): {reaggregation_note(change)}"
        )
    if changes.flaps:
        lines.append(f"flaps within the kept history: {counted(len(changes.flaps), 'range')}")
        lines.extend(f"  ~ {flap.text}" for flap in changes.flaps)
    return "\n".join(lines) + "\n"


def to_json(changes: ChangeSet) -> str:
    return json.dumps(changes.to_dict(), indent=2, sort_keys=False) + "\n"


def render_report(changes: ChangeSet, fmt: str) -> str:
    if fmt == "json":
        return to_json(changes)
    if fmt == "markdown":
        from tagsync.report_markdown import to_markdown

        return to_markdown(changes)
    return to_text(changes)
