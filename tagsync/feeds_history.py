"""What the feed tree shows of the kept history: per watched tag its entry count per kept version
(the page's charts), and per tag the version that gave it its current content, with that
version's publication, so a change that gained addresses gets a deploy-by date.

Read-only use of :mod:`tagsync.history`; history is best effort, so a damaged entry is skipped
(the tag then shows no last change), never an error. Which versions changed a tag comes from
the manifests' content ids, without reading the packs; only the two versions around each
tag's last change are read, to tell whether it gained addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from tagsync.feeds import LastChange, TagFeed, feed_lists
from tagsync.history import HistoryDamaged, history_of
from tagsync.published import FROM_ACCEPTANCE, Publication

if TYPE_CHECKING:
    from tagsync.history import History, VersionInfo
    from tagsync.model import ServiceTags, Tag
    from tagsync.store import Store

__all__ = [
    "Kept",
    "Point",
    "TagTrend",
    "kept_history",
    "label",
]


@dataclass(frozen=True, slots=True)
class Point:
    """One version of a tag: when, which file changeNumber, how many feed entries (all.txt)."""

    label: str  # publication date ("*" after it: the acceptance day), or "current"
    change_number: int
    entries: int
    tag_change_number: int


@dataclass(frozen=True, slots=True)
class TagTrend:
    """A watched tag over the kept history, oldest first, ending with the rendered version."""

    points: tuple[Point, ...]
    since: str  # label of the oldest point in the run of the tag's current changeNumber
    since_oldest_kept: bool  # that run reaches back to the oldest kept version (may be older)


def _publication(published: str, basis: str) -> Publication:
    return Publication(date.fromisoformat(published), basis)


def label(published: Publication | None) -> str:
    """A version's date as the page shows it."""
    if published is None:
        return "current"
    # "*": counted from the day the file was accepted (its name had no date), as in the table.
    mark = "*" if published.basis == FROM_ACCEPTANCE else ""
    return published.date.isoformat() + mark


class Kept:
    """The kept versions up to the rendered one: all of them then the rendered file, or, when
    the rendered file is a kept version, the kept versions up to and including it."""

    def __init__(self, store: Store, current: ServiceTags, published: Publication | None):
        self.history: History = history_of(store)
        versions, _problems = self.history.versions()
        position = next(
            (i for i in range(len(versions) - 1, -1, -1) if versions[i].sha256 == current.sha256),
            None,
        )
        self.current = current
        self.current_kept = position is not None
        self.versions: list[VersionInfo] = (
            versions[: position + 1] if position is not None else versions
        )
        if position is not None:  # the history's own record of this file wins
            kept = versions[position]
            published = _publication(kept.published, kept.published_basis)
        self.published = published

    # --- charts ---------------------------------------------------------------------------
    def _points(self, name: str) -> list[Point]:
        points = []
        for info in self.versions[:-1] if self.current_kept else self.versions:
            if name not in info.tags:
                continue
            try:
                tag = self.history.tag(info, name)
            except HistoryDamaged:
                continue
            (feed,) = feed_lists([tag])
            entries = len(feed.ipv4) + len(feed.ipv6)
            published = _publication(info.published, info.published_basis)
            points.append(Point(label(published), info.change_number, entries, tag.change_number))
        return points

    def trends(self, feeds: Mapping[str, TagFeed], names: Sequence[str]) -> dict[str, TagTrend]:
        """Per watched tag (each in ``feeds``): its points over the kept versions, then the
        rendered version's (from the feeds, not from history)."""
        trends = {}
        for name in names:
            feed = feeds[name]
            points = self._points(name)
            entries = len(feed.ipv4) + len(feed.ipv6)
            points.append(
                Point(
                    label(self.published), self.current.change_number, entries, feed.change_number
                )
            )
            start = len(points) - 1
            while start > 0 and points[start - 1].tag_change_number == feed.change_number:
                start -= 1
            since_oldest = start == 0 and len(points) > 1
            trends[name] = TagTrend(tuple(points), points[start].label, since_oldest)
        return trends

    # --- last changes -----------------------------------------------------------------------
    def last_changes(self, names: Sequence[str]) -> dict[str, LastChange]:
        """Per tag of ``names`` whose last change the kept history shows: that version, and
        whether the change gained addresses. Tags unchanged over every kept version (or with
        no history at all) are left out: their last change is older than what is kept."""
        versions = self.versions
        count = len(versions)  # as an index: the rendered file, when it is not kept
        if not versions:
            return {}
        loaded: dict[int, dict[str, Tag]] = {}
        # Per tag: (version that changed it, the version before it or None when new there).
        found: dict[str, tuple[int, int | None]] = {}
        unchanged_since_kept = list(names)
        if not self.current_kept:
            newest = versions[-1].tags
            present = [name for name in names if name in newest]
            loaded[count - 1] = self._tags(versions[-1], present)
            found = {name: (count, None) for name in names if name not in newest}
            unchanged_since_kept = []
            for name in present:
                kept = loaded[count - 1].get(name)
                if kept is None:
                    continue  # damaged: no last change shown
                if _same(kept, self.current.tags[name]):
                    unchanged_since_kept.append(name)
                else:
                    found[name] = (count, count - 1)
        for name in unchanged_since_kept:
            content = versions[-1].tags[name][0]
            start = count - 1
            while start > 0 and versions[start - 1].tags.get(name, ("",))[0] == content:
                start -= 1
            if start > 0:
                found[name] = (start, start - 1 if name in versions[start - 1].tags else None)
        return self._resolve(found, loaded)

    def _resolve(
        self, found: Mapping[str, tuple[int, int | None]], loaded: dict[int, dict[str, Tag]]
    ) -> dict[str, LastChange]:
        """Read the tags around each change (one batch per version) and compare coverages."""
        from tagsync.coverage import diff_coverages

        count = len(self.versions)
        wanted: dict[int, list[str]] = {}
        for name, (after, before) in found.items():
            for index in (after, before):
                if index is not None and index < count and name not in loaded.get(index, {}):
                    wanted.setdefault(index, []).append(name)
        for index, wanted_names in sorted(wanted.items()):
            loaded.setdefault(index, {}).update(self._tags(self.versions[index], wanted_names))

        def prefixes(name: str, index: int | None) -> tuple[str, ...] | None:
            if index is None:
                return ()
            if index == count:
                return self.current.tags[name].prefixes
            tag = loaded.get(index, {}).get(name)
            return None if tag is None else tag.prefixes

        pairs = {}
        for name, (after, before) in found.items():
            old, new = prefixes(name, before), prefixes(name, after)
            if old is not None and new is not None:  # else damaged: no last change shown
                pairs[name] = (old, new)
        coverages = diff_coverages(pairs)
        changes = {}
        for name in found:
            if name not in coverages:
                continue
            after = found[name][0]
            if after == count:
                published, change_number = self.published, self.current.change_number
            else:
                info = self.versions[after]
                published = _publication(info.published, info.published_basis)
                change_number = info.change_number
            changes[name] = LastChange(change_number, published, bool(coverages[name].gained))
        return changes

    def _tags(self, info: VersionInfo, names: Sequence[str]) -> dict[str, Tag]:
        """``names`` (all in ``info``) of one kept version, parsed in one batch; {} if damaged."""
        if not names:
            return {}
        try:
            return dict(self.history.load(info, names).tags.items())
        except HistoryDamaged:
            return {}


def _same(kept: Tag, current: Tag) -> bool:
    """Equal as history compares contents: every property, the prefixes in canonical form and
    in order (a reordered list is a new content, and the version a change)."""
    if tuple(kept.prefixes) != tuple(current.prefixes):
        return False
    return _other_properties(kept) == _other_properties(current)


def _other_properties(tag: Tag) -> dict[str, object]:
    return {key: value for key, value in tag.properties.items() if key != "addressPrefixes"}


def kept_history(store: Store, current: ServiceTags, published: Publication | None) -> Kept:
    return Kept(store, current, published)
