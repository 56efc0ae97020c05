"""The content every human-facing alert shows, cut to size: headline, per-tag coverage, CIDRs.

Alerts lead with coverage: the CIDRs that became reachable and those that stopped being
reachable, per tag, with the deploy-by date of the gained ones (publication + 7 days) when the
publication is known; a tag that was only re-aggregated (new prefix texts, same addresses) gets a
one-line note, and each flap (a range this version brings back or takes away again) one line.
Chat messages have size limits, so long lists and many tags are truncated with a count of what
was left out; the generic webhook sends the full diff document instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.coverage import AddressCounts
from tagsync.diff import ChangeSet, TagChange
from tagsync.report import (
    coverage_text,
    deploy_by_text,
    reaggregation_note,
    tag_version_text,
    version_text,
)

__all__ = [
    "Shown",
    "Summary",
    "TagSummary",
    "markdown_text",
    "more",
    "plain_text",
    "summarize",
]


def _cidrs(count: int) -> str:
    return f"{count} CIDR{'s' * (count != 1)}"


@dataclass(frozen=True, slots=True)
class Shown:
    """The first items of a list and how many more there are."""

    items: tuple[str, ...]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.items)

    @classmethod
    def of(cls, items: tuple[str, ...], limit: int) -> Shown:
        return cls(items[:limit], len(items))


@dataclass(frozen=True, slots=True)
class TagSummary:
    name: str
    old_change_number: int | None
    new_change_number: int | None
    old_count: int
    new_count: int
    gained: Shown
    lost: Shown
    # What happened to the tag's addresses in words, or its re-aggregation note.
    description: str
    reaggregated: bool
    property_keys: tuple[str, ...]

    @property
    def counts(self) -> str:
        return f"{self.description} ({self.old_count} → {self.new_count} prefixes)"

    @property
    def change_numbers(self) -> str:
        """``tag changeNumber 5 → 6``, ``new tag, changeNumber 1`` or ``tag gone, was ...``."""
        return tag_version_text(self.old_change_number, self.new_change_number, "→")


@dataclass(frozen=True, slots=True)
class Summary:
    cloud: str
    old_change_number: int | None
    new_change_number: int
    tags: tuple[TagSummary, ...]
    tag_total: int
    gained_total: int
    lost_total: int
    gained_addresses: AddressCounts
    lost_addresses: AddressCounts
    reaggregated_total: int
    # "2025-10-13 (published 2025-10-06; + 7 days)" when addresses were gained, else None.
    deploy_by: str | None = None
    flaps: Shown = Shown((), 0)  # one line per flapping range

    @property
    def hidden_tags(self) -> int:
        return self.tag_total - len(self.tags)

    @property
    def change_numbers(self) -> str:
        """``changeNumber 363 → 364`` or ``changeNumber 364 (first accepted version)``."""
        return version_text(self.old_change_number, self.new_change_number, "→")

    @property
    def title(self) -> str:
        return f"Azure service tags changed: {self.cloud} {self.change_numbers}"

    @property
    def headline(self) -> str:
        text = (
            f"{self.tag_total} watched tag{'s' * (self.tag_total != 1)} changed: "
            f"+{_cidrs(self.gained_total)} now reachable, "
            f"−{self.lost_total} no longer reachable"
        )
        if self.reaggregated_total:
            text += f", {self.reaggregated_total} re-aggregated with the same addresses"
        return text

    @property
    def now_reachable(self) -> str:
        if not self.gained_total:
            return "none"
        return f"+{_cidrs(self.gained_total)} ({self.gained_addresses.text()})"

    @property
    def no_longer_reachable(self) -> str:
        if not self.lost_total:
            return "none"
        return f"−{_cidrs(self.lost_total)} ({self.lost_addresses.text()})"

    @property
    def reach(self) -> str:
        """The address totals in one line, with the deploy-by date of the gained ones."""
        deploy = f"; deploy by {self.deploy_by}" if self.deploy_by else ""
        return (
            f"Now reachable: {self.now_reachable}{deploy}; "
            f"no longer reachable: {self.no_longer_reachable}"
        )

    @property
    def flap_lines(self) -> list[str]:
        """The flaps, headed, cut at the prefix limit (empty when there are none)."""
        if not self.flaps.total:
            return []
        lines = [f"Flaps within the kept history ({self.flaps.total}):", *self.flaps.items]
        return lines + ([more(self.flaps.hidden)] if self.flaps.hidden else [])

    @property
    def advice(self) -> tuple[str, ...]:
        """What to do, in the order it matters."""
        lines = []
        if self.gained_total:
            by = f" by {self.deploy_by}" if self.deploy_by else ""
            lines.append(
                f"Allow the newly reachable CIDRs{by}: until the regenerated rules are applied, "
                "traffic to them is blocked."
            )
        if self.lost_total:
            lines.append(
                "The CIDRs no longer reachable can be removed from allow rules once the new "
                "rules are live."
            )
        if self.reaggregated_total:
            lines.append(
                "Re-aggregated tags need nothing beyond re-rendering configs that list prefixes."
            )
        lines.append("Apply the regenerated configs, then confirm the rules are live.")
        return tuple(lines)

    @property
    def tag_names(self) -> str:
        names = ", ".join(tag.name for tag in self.tags)
        return names + (f" and {self.hidden_tags} more" if self.hidden_tags else "")


def _tag(change: TagChange, max_prefixes: int) -> TagSummary:
    coverage = change.coverage
    return TagSummary(
        name=change.name,
        old_change_number=change.old_change_number,
        new_change_number=change.new_change_number,
        old_count=change.old_count,
        new_count=change.new_count,
        gained=Shown.of(coverage.gained, max_prefixes),
        lost=Shown.of(coverage.lost, max_prefixes),
        description=reaggregation_note(change) if change.reaggregated else coverage_text(coverage),
        reaggregated=change.reaggregated,
        property_keys=tuple(sorted(change.property_changes)),
    )


def summarize(changes: ChangeSet, *, max_prefixes: int = 20, max_tags: int = 20) -> Summary:
    """Tags whose addresses (or other properties) changed come first, re-aggregations last, so
    a cut at ``max_tags`` drops the notes before the changes that need action."""
    names = sorted(changes.tags, key=lambda name: (not changes.tags[name].coverage_changed, name))
    return Summary(
        cloud=changes.cloud,
        old_change_number=changes.old_change_number,
        new_change_number=changes.new_change_number,
        tags=tuple(_tag(changes.tags[name], max_prefixes) for name in names[:max_tags]),
        tag_total=len(names),
        gained_total=changes.gained_count,
        lost_total=changes.lost_count,
        gained_addresses=changes.gained_addresses,
        lost_addresses=changes.lost_addresses,
        reaggregated_total=len(changes.reaggregated),
        deploy_by=deploy_by_text(changes),
        flaps=Shown.of(tuple(flap.text for flap in changes.flaps), max_prefixes),
    )


def more(hidden: int) -> str:
    return f"… and {hidden} more"


def plain_text(summary: Summary) -> str:
    """A plain-text mail body."""
    lines = [summary.title, summary.headline, summary.reach, ""]
    for tag in summary.tags:
        lines.append(f"{tag.name} ({tag.change_numbers}): {tag.counts}")
        for sign, shown in (("+", tag.gained), ("-", tag.lost)):
            lines.extend(f"  {sign} {cidr}" for cidr in shown.items)
            if shown.hidden:
                lines.append(f"  {sign} {more(shown.hidden)}")
        if tag.property_keys:
            lines.append(f"  ~ other properties changed ({', '.join(tag.property_keys)})")
        lines.append("")
    if summary.hidden_tags:
        lines += [f"{more(summary.hidden_tags)} tags (see `tagsync diff`)", ""]
    if summary.flaps.total:
        head, *items = summary.flap_lines
        lines += [head, *(f"  ~ {item}" for item in items), ""]
    lines += summary.advice
    return "\n".join(lines) + "\n"


def markdown_text(summary: Summary) -> str:
    """A Markdown-ish mail alternative: readable as text, renders where Markdown does."""
    lines = [f"# {summary.title}", "", f"**{summary.headline}**", "", summary.reach, ""]
    for tag in summary.tags:
        numbers = f"{tag.change_numbers}, {tag.counts}"
        lines += [f"## `{tag.name}`", "", numbers, ""]
        for title, shown in (("Now reachable", tag.gained), ("No longer reachable", tag.lost)):
            if shown.total:
                lines += [f"{title} ({shown.total}):", ""]
                lines += [f"- `{cidr}`" for cidr in shown.items]
                lines += [f"- {more(shown.hidden)}"] if shown.hidden else []
                lines.append("")
        if tag.property_keys:
            lines += [f"Other properties changed: {', '.join(tag.property_keys)}", ""]
    if summary.hidden_tags:
        lines += [f"{more(summary.hidden_tags)} tags (see `tagsync diff`).", ""]
    if summary.flaps.total:
        head, *items = summary.flap_lines
        lines += [f"## {head.rstrip(':')}", "", *(f"- {item}" for item in items), ""]
    lines += [f"- {advice}" for advice in summary.advice]
    return "\n".join(lines) + "\n"
