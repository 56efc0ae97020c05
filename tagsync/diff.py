"""Compare two versions of the service tags: per tag, which prefixes came and went, and which
addresses.

Prefix lists are compared as sets (fast, order-insensitive); only tags whose prefix texts
differ are then compared by the addresses they cover (:mod:`tagsync.coverage`), which tells a
re-aggregation (new texts, same addresses) from a real change. The other properties of a tag
(region, systemService, networkFeatures, ...) are compared structurally with deepdiff, but only
for tags whose properties actually differ, so a full-file diff stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from tagsync.coverage import NO_CHANGE, AddressCounts, Coverage, diff_coverage, diff_coverages
from tagsync.model import ServiceTags, Tag
from tagsync.prefixes import sort_prefixes
from tagsync.published import Publication

if TYPE_CHECKING:
    from tagsync.flaps import Flap

__all__ = ["ChangeSet", "TagChange", "diff_service_tags", "diff_tags"]


@dataclass(frozen=True, slots=True)
class TagChange:
    """What changed in one tag between two versions (prefix lists sorted numerically).

    ``added``/``removed`` are prefix texts; ``coverage`` holds the addresses really gained and
    lost, which is what firewalls that match addresses care about.
    """

    name: str
    old_change_number: int | None
    new_change_number: int | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # deepdiff's description of property changes other than changeNumber, JSON-ready.
    property_changes: dict[str, Any] = field(default_factory=dict)
    old_count: int = 0
    new_count: int = 0
    coverage: Coverage = NO_CHANGE

    @property
    def changed(self) -> bool:
        """Any difference at all: a prefix text or another property."""
        return bool(self.added or self.removed or self.property_changes)

    @property
    def reaggregated(self) -> bool:
        """The prefix texts changed but the tag covers exactly the same addresses."""
        return bool(self.added or self.removed) and not self.coverage.changed

    @property
    def coverage_changed(self) -> bool:
        """A difference that matters to a firewall: addresses gained or lost, or another
        property (region, networkFeatures, ...) changed. A pure re-aggregation is not one."""
        return self.coverage.changed or bool(self.property_changes)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "old_change_number": self.old_change_number,
            "new_change_number": self.new_change_number,
            "added": list(self.added),
            "removed": list(self.removed),
            "coverage": self.coverage.to_dict(),
        }
        if self.property_changes:
            document["property_changes"] = self.property_changes
        return document


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Changes between two versions for the compared tags; unchanged tags are left out."""

    cloud: str
    old_change_number: int | None
    new_change_number: int
    tags: dict[str, TagChange]
    old_sha256: str | None = None
    new_sha256: str = ""
    # When the new version was published (deploy-by dates count from it), when known.
    published: Publication | None = None
    # Ranges of the compared tags that this version brings back or takes away again within the
    # kept history (tagsync.flaps), when the caller looked.
    flaps: tuple[Flap, ...] = ()

    @property
    def deploy_by(self) -> date | None:
        """The first day Microsoft may use the addresses gained (publication + 7 days); None
        when nothing was gained or the publication is unknown."""
        if self.published is None or not self.gained_count:
            return None
        return self.published.deploy_by

    @property
    def changed(self) -> bool:
        """Any compared tag differs at all, re-aggregations included."""
        return bool(self.tags)

    @property
    def coverage_changed(self) -> bool:
        """Some compared tag gained or lost addresses or changed another property: the change
        that --exit-code, check and alerts should react to (re-aggregations alone are not)."""
        return any(change.coverage_changed for change in self.tags.values())

    @property
    def reaggregated(self) -> tuple[str, ...]:
        """Names of the tags whose prefix texts changed while their addresses did not."""
        return tuple(name for name in sorted(self.tags) if self.tags[name].reaggregated)

    @property
    def gained_count(self) -> int:
        """CIDRs of newly covered addresses, over all tags."""
        return sum(len(change.coverage.gained) for change in self.tags.values())

    @property
    def lost_count(self) -> int:
        """CIDRs of addresses no longer covered, over all tags."""
        return sum(len(change.coverage.lost) for change in self.tags.values())

    @property
    def gained_addresses(self) -> AddressCounts:
        return sum(
            (change.coverage.gained_addresses for change in self.tags.values()), AddressCounts()
        )

    @property
    def lost_addresses(self) -> AddressCounts:
        return sum(
            (change.coverage.lost_addresses for change in self.tags.values()), AddressCounts()
        )

    @property
    def added_count(self) -> int:
        return sum(len(change.added) for change in self.tags.values())

    @property
    def removed_count(self) -> int:
        return sum(len(change.removed) for change in self.tags.values())

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "cloud": self.cloud,
            "old_change_number": self.old_change_number,
            "new_change_number": self.new_change_number,
        }
        if self.published is not None:
            document["published"] = {
                "date": self.published.date.isoformat(),
                "basis": self.published.basis,
            }
            deploy_by = self.deploy_by
            document["deploy_by"] = None if deploy_by is None else deploy_by.isoformat()
        document["tags"] = {name: self.tags[name].to_dict() for name in sorted(self.tags)}
        if self.flaps:
            document["flaps"] = [flap.to_dict() for flap in self.flaps]
        return document


def _property_changes(old: Tag, new: Tag) -> dict[str, Any]:
    ignored = {"changeNumber", "addressPrefixes"}
    old_props = {k: v for k, v in old.properties.items() if k not in ignored}
    new_props = {k: v for k, v in new.properties.items() if k not in ignored}
    if old_props == new_props:
        return {}
    from deepdiff import DeepDiff  # only paid for when properties really differ

    difference = DeepDiff(old_props, new_props, ignore_order=True, verbose_level=2)
    # to_json + loads gives plain JSON types (deepdiff uses its own containers).
    import json

    result: dict[str, Any] = json.loads(difference.to_json())
    return result


def _tag_change(
    name: str,
    old: Tag | None,
    new: Tag | None,
    old_set: set[str],
    new_set: set[str],
    coverage: Coverage,
) -> TagChange:
    return TagChange(
        name=name,
        old_change_number=old.change_number if old else None,
        new_change_number=new.change_number if new else None,
        added=tuple(sort_prefixes(new_set - old_set)),
        removed=tuple(sort_prefixes(old_set - new_set)),
        property_changes=_property_changes(old, new) if old and new else {},
        old_count=len(old_set),
        new_count=len(new_set),
        coverage=coverage,
    )


def _prefix_set(tag: Tag | None) -> set[str]:
    return set(tag.prefixes) if tag else set()


def diff_tags(name: str, old: Tag | None, new: Tag | None) -> TagChange:
    """Compare one tag across versions; a missing side counts as an empty tag."""
    old_set, new_set = _prefix_set(old), _prefix_set(new)
    # Interval work only when the texts differ: equal texts cover equal addresses.
    coverage = diff_coverage(old_set, new_set) if old_set != new_set else NO_CHANGE
    return _tag_change(name, old, new, old_set, new_set, coverage)


def diff_service_tags(
    old: ServiceTags | None, new: ServiceTags, names: Iterable[str] | None = None
) -> ChangeSet:
    """Compare ``new`` against ``old`` for ``names`` (None: every tag in either version).

    With no old version (first run) every prefix of the compared tags counts as added.
    """
    if names is None:
        # Every tag is compared: validate each version in one batch, not tag by tag.
        new.validate()
        if old is not None:
            old.validate()
    old_tags: Mapping[str, Tag] = old.tags if old else {}
    wanted = sorted(set(old_tags) | set(new.tags)) if names is None else list(dict.fromkeys(names))
    candidates: dict[str, tuple[Tag | None, Tag | None, set[str], set[str]]] = {}
    for name in wanted:
        old_tag, new_tag = old_tags.get(name), new.tags.get(name)
        if (
            old_tag is not None
            and new_tag is not None
            and old_tag.prefixes == new_tag.prefixes
            and old_tag.properties == new_tag.properties
        ):
            continue  # the common case, decided without building sets
        candidates[name] = (old_tag, new_tag, _prefix_set(old_tag), _prefix_set(new_tag))
    # The interval work in one batch: tags share most prefixes, so each is parsed once.
    coverages = diff_coverages(
        {
            name: (old_set, new_set)
            for name, (_, _, old_set, new_set) in candidates.items()
            if old_set != new_set
        }
    )
    changes: dict[str, TagChange] = {}
    for name, (old_tag, new_tag, old_set, new_set) in candidates.items():
        coverage = coverages.get(name, NO_CHANGE)
        change = _tag_change(name, old_tag, new_tag, old_set, new_set, coverage)
        if change.changed:
            changes[name] = change
    return ChangeSet(
        cloud=new.cloud,
        old_change_number=old.change_number if old else None,
        new_change_number=new.change_number,
        tags=changes,
        old_sha256=old.sha256 if old else None,
        new_sha256=new.sha256,
    )
