"""What the feed page shows of the kept history: per watched tag, its entry count per kept version
and since when its current changeNumber has been seen. Read-only use of :mod:`tagsync.history`;
history is best effort, so a damaged entry is skipped, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tagsync.feeds import TagFeed, feed_lists, publication_date
from tagsync.history import HistoryDamaged, history_of

if TYPE_CHECKING:
    from tagsync.history import History, VersionInfo
    from tagsync.model import ServiceTags
    from tagsync.store import Store

__all__ = ["Point", "TagTrend", "history_fingerprint", "tag_trends"]


@dataclass(frozen=True, slots=True)
class Point:
    """One version of a tag: when, which file changeNumber, how many feed entries (all.txt)."""

    label: str  # publication date when known, else the date the version was accepted
    change_number: int
    entries: int
    tag_change_number: int


@dataclass(frozen=True, slots=True)
class TagTrend:
    """A watched tag over the kept history, oldest first, ending with the rendered version."""

    points: tuple[Point, ...]
    since: str  # label of the oldest point in the run of the tag's current changeNumber
    since_oldest_kept: bool  # that run reaches back to the oldest kept version (may be older)


def history_fingerprint(store: Store) -> list[list[int]]:
    """(seq, size, mtime) of every kept manifest: changes whenever the history does, for the
    price of a directory listing (part of the tree's input key)."""
    found = []
    for seq, path in history_of(store).manifest_paths():
        try:
            stat = os.stat(path)
        except OSError:
            continue
        found.append([seq, stat.st_size, stat.st_mtime_ns])
    return found


def _label(info: VersionInfo) -> str:
    return publication_date(info.source) or info.accepted_at[:10]


def _kept_points(history: History, versions: Sequence[VersionInfo], name: str) -> list[Point]:
    points = []
    for info in versions:
        if name not in info.tags:
            continue
        try:
            tag = history.tag(info, name)
        except HistoryDamaged:
            continue
        (feed,) = feed_lists([tag])
        entries = len(feed.ipv4) + len(feed.ipv6)
        points.append(Point(_label(info), info.change_number, entries, tag.change_number))
    return points


def tag_trends(
    store: Store,
    current: ServiceTags,
    feeds: Mapping[str, TagFeed],
    names: Sequence[str],
    current_label: str,
) -> dict[str, TagTrend]:
    """Per watched tag (each in ``feeds``): its points over the kept versions, then the
    rendered version unless the newest kept version is that same file."""
    history = history_of(store)
    versions, _problems = history.versions()
    if versions and versions[-1].sha256 == current.sha256:
        versions = versions[:-1]  # the rendered file itself: its point comes from the feeds
    trends = {}
    for name in names:
        feed = feeds[name]
        points = _kept_points(history, versions, name)
        entries = len(feed.ipv4) + len(feed.ipv6)
        points.append(Point(current_label, current.change_number, entries, feed.change_number))
        start = len(points) - 1
        while start > 0 and points[start - 1].tag_change_number == feed.change_number:
            start -= 1
        trends[name] = TagTrend(tuple(points), points[start].label, start == 0 and len(points) > 1)
    return trends
