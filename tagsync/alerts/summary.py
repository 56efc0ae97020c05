"""The content every human-facing alert shows, cut to size: headline, per-tag counts, prefixes.

Chat messages have size limits, so long prefix lists and many tags are truncated with a count of
what was left out; the generic webhook sends the full diff document instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.diff import ChangeSet, TagChange
from tagsync.report import number_text

__all__ = [
    "Shown",
    "Summary",
    "TagSummary",
    "markdown_text",
    "more",
    "plain_text",
    "summarize",
]


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
    added: Shown
    removed: Shown
    property_keys: tuple[str, ...]

    @property
    def counts(self) -> str:
        return f"+{self.added.total} −{self.removed.total} ({self.old_count} → {self.new_count})"

    @property
    def change_numbers(self) -> str:
        return f"{number_text(self.old_change_number)} → {number_text(self.new_change_number)}"


@dataclass(frozen=True, slots=True)
class Summary:
    cloud: str
    old_change_number: int | None
    new_change_number: int
    tags: tuple[TagSummary, ...]
    tag_total: int
    added_total: int
    removed_total: int

    @property
    def hidden_tags(self) -> int:
        return self.tag_total - len(self.tags)

    @property
    def change_numbers(self) -> str:
        return f"{number_text(self.old_change_number)} → {self.new_change_number}"

    @property
    def title(self) -> str:
        return f"Azure service tags changed: {self.cloud} changeNumber {self.change_numbers}"

    @property
    def headline(self) -> str:
        return (
            f"{self.tag_total} watched tag{'s' * (self.tag_total != 1)} changed: "
            f"+{self.added_total} added, −{self.removed_total} removed prefixes"
        )

    @property
    def tag_names(self) -> str:
        names = ", ".join(tag.name for tag in self.tags)
        return names + (f" and {self.hidden_tags} more" if self.hidden_tags else "")


def _tag(change: TagChange, max_prefixes: int) -> TagSummary:
    return TagSummary(
        name=change.name,
        old_change_number=change.old_change_number,
        new_change_number=change.new_change_number,
        old_count=change.old_count,
        new_count=change.new_count,
        added=Shown.of(change.added, max_prefixes),
        removed=Shown.of(change.removed, max_prefixes),
        property_keys=tuple(sorted(change.property_changes)),
    )


def summarize(changes: ChangeSet, *, max_prefixes: int = 20, max_tags: int = 20) -> Summary:
    names = sorted(changes.tags)
    return Summary(
        cloud=changes.cloud,
        old_change_number=changes.old_change_number,
        new_change_number=changes.new_change_number,
        tags=tuple(_tag(changes.tags[name], max_prefixes) for name in names[:max_tags]),
        tag_total=len(names),
        added_total=changes.added_count,
        removed_total=changes.removed_count,
    )


def more(hidden: int) -> str:
    return f"… and {hidden} more"


def plain_text(summary: Summary) -> str:
    """A plain-text mail body."""
    lines = [summary.title, summary.headline, ""]
    for tag in summary.tags:
        lines.append(f"{tag.name} (tag changeNumber {tag.change_numbers}): {tag.counts}")
        for sign, shown in (("+", tag.added), ("-", tag.removed)):
            lines.extend(f"  {sign} {prefix}" for prefix in shown.items)
            if shown.hidden:
                lines.append(f"  {sign} {more(shown.hidden)}")
        if tag.property_keys:
            lines.append(f"  ~ other properties changed ({', '.join(tag.property_keys)})")
        lines.append("")
    if summary.hidden_tags:
        lines += [f"{more(summary.hidden_tags)} tags (see `tagsync diff`)", ""]
    lines.append("Apply the regenerated configs, then confirm the rules are live.")
    return "\n".join(lines) + "\n"


def markdown_text(summary: Summary) -> str:
    """A Markdown-ish mail alternative: readable as text, renders where Markdown does."""
    lines = [f"# {summary.title}", "", f"**{summary.headline}**", ""]
    for tag in summary.tags:
        numbers = f"tag changeNumber {tag.change_numbers}, {tag.counts}"
        lines += [f"## `{tag.name}`", "", numbers, ""]
        for title, shown in (("Added", tag.added), ("Removed", tag.removed)):
            if shown.total:
                lines += [f"{title} ({shown.total}):", ""]
                lines += [f"- `{prefix}`" for prefix in shown.items]
                lines += [f"- {more(shown.hidden)}"] if shown.hidden else []
                lines.append("")
        if tag.property_keys:
            lines += [f"Other properties changed: {', '.join(tag.property_keys)}", ""]
    if summary.hidden_tags:
        lines += [f"{more(summary.hidden_tags)} tags (see `tagsync diff`).", ""]
    lines.append("Apply the regenerated configs, then confirm the rules are live.")
    return "\n".join(lines) + "\n"
