"""Address objects collected in per-tag groups, and the add/remove plan between two versions.

Firewalls that refer to prefixes through named objects (FortiGate, Juniper SRX) or list them in
named groups (Cisco ASA) all need the same three things: a deterministic name per prefix (so
the same prefix keeps its object across runs and tags), a tag's members split into groups of
at most N, and - between two published versions - the objects and members to add before the
ones to remove, so no group or rule is ever left empty in between. This module holds them for
any such format (PAN-OS included); a format supplies only its naming rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tagsync.prefixes import sorted_families

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet
    from tagsync.formats.base import TagView

__all__ = [
    "DIGEST_LENGTH",
    "Layout",
    "Plan",
    "fitted_name",
    "layout",
    "numbered_names",
    "plan",
    "prefix_object_names",
    "previous_prefixes",
]

DIGEST_LENGTH = 8  # hex digits of sha256 that keep shortened names distinct


def prefix_object_names(prefixes: Sequence[str], lead: str) -> list[str]:
    """``lead`` + the prefix with ``.``/``:`` as ``-`` and ``/`` as ``_``, for each canonical
    prefix (``20.36.0.0/14`` -> ``<lead>20-36-0-0_14``).

    IPv4 text always has exactly three single separators while compressed IPv6 has seven or
    a ``::`` (``--``), so two prefixes never share a name. One replacement pass over the
    joined text: a canonical prefix has one ``/`` and no ``.`` or ``:`` after it.
    """
    if not prefixes:
        return []
    body = "\n".join(prefixes).replace(".", "-").replace(":", "-").replace("/", "_")
    return list(map(lead.__add__, body.split("\n")))


def fitted_name(base: str, key: str, limit: int) -> str:
    """``base`` if it has at most ``limit`` characters; else a readable start of it and the
    first hex digits of sha256(``key``), so two long names never collide."""
    if len(base) <= limit:
        return base
    digest = hashlib.sha256(key.encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{base[: limit - DIGEST_LENGTH - 1]}-{digest}"


def numbered_names(base: str, key: str, count: int, limit: int, suffix: str = "") -> list[str]:
    """Names of the ``count`` groups holding one key: ``base + suffix`` when one is enough,
    else ``base + suffix + -01`` ... (zero-padded), each fitted within ``limit`` characters."""
    if count == 1:
        return [fitted_name(base, key, limit - len(suffix)) + suffix]
    width = len(str(count))
    head = fitted_name(base, key, limit - len(suffix) - width - 1) + suffix
    return [f"{head}-{index:0{width}d}" for index in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class Layout:
    """Named objects and the groups holding them."""

    objects: dict[str, str]  # object name -> prefix, in first-seen (numeric) order
    groups: dict[str, tuple[str, ...]]  # group name -> member object names
    key_groups: dict[str, list[str]] = field(default_factory=dict)  # key -> its group names

    @property
    def tag_groups(self) -> dict[str, list[str]]:
        """``key_groups`` under the name user templates read as ``panos.tag_groups``."""
        return self.key_groups


def layout(
    keyed: Iterable[tuple[str, Sequence[str]]],
    object_names: Callable[[Sequence[str]], list[str]],
    group_names: Callable[[str, int], list[str]],
    limit: int,
) -> Layout:
    """Objects and groups for ``(key, sorted prefixes)`` pairs (a key is a tag, or a tag and
    family): each key's objects in order, split into groups of at most ``limit`` members
    named by ``group_names(key, count)``; a key without prefixes gets no group."""
    objects: dict[str, str] = {}
    groups: dict[str, tuple[str, ...]] = {}
    key_groups: dict[str, list[str]] = {}
    for key, prefixes in keyed:
        names = object_names(prefixes)
        for name, prefix in zip(names, prefixes, strict=True):
            objects.setdefault(name, prefix)
        chunks = [names[i : i + limit] for i in range(0, len(names), limit)]
        key_groups[key] = group_names(key, len(chunks)) if chunks else []
        for group, members in zip(key_groups[key], chunks, strict=True):
            groups[group] = tuple(members)
    return Layout(objects, groups, key_groups)


@dataclass(frozen=True, slots=True)
class Plan:
    """What turns one layout into another, in the order the commands must run: additions
    first, then removals, so no group or rule is ever left empty in between."""

    added_objects: list[tuple[str, str]]  # (name, prefix)
    member_adds: list[tuple[str, list[str]]]  # (group, members); creates new groups too
    added_groups: list[str]
    removed_groups: list[str]
    member_removals: list[tuple[str, list[str]]]  # (group, members) of groups that stay
    removed_objects: list[tuple[str, str]]  # (name, prefix)

    @property
    def member_add_count(self) -> int:
        return sum(len(members) for _, members in self.member_adds)

    @property
    def member_removal_count(self) -> int:
        return sum(len(members) for _, members in self.member_removals)

    @property
    def empty(self) -> bool:
        return not (
            self.added_objects
            or self.member_adds
            or self.removed_groups
            or self.member_removals
            or self.removed_objects
        )


def plan(old: Layout, new: Layout) -> Plan:
    """Compare two layouts: objects and group members to add, then to remove."""
    added_objects = [(n, p) for n, p in new.objects.items() if n not in old.objects]
    removed_objects = [(n, p) for n, p in old.objects.items() if n not in new.objects]
    member_adds: list[tuple[str, list[str]]] = []
    member_removals: list[tuple[str, list[str]]] = []
    for group, members in new.groups.items():
        before = set(old.groups.get(group, ()))
        adds = [m for m in members if m not in before]
        if adds:
            member_adds.append((group, adds))
        if group in old.groups:
            now = set(members)
            gone = [m for m in old.groups[group] if m not in now]
            if gone:
                member_removals.append((group, gone))
    return Plan(
        added_objects=added_objects,
        member_adds=member_adds,
        added_groups=[g for g in new.groups if g not in old.groups],
        removed_groups=[g for g in old.groups if g not in new.groups],
        member_removals=member_removals,
        removed_objects=removed_objects,
    )


def previous_prefixes(views: Sequence[TagView], changes: ChangeSet) -> list[tuple[str, list[str]]]:
    """``(tag, sorted prefixes)`` of the previous version's allow-list, rebuilt from this
    version and the diff (the previous file itself is not needed), with what removal grace
    held for it: a held prefix is deleted only once its grace has ended."""
    pairs = []
    for view in views:
        change = changes.tags.get(view.name)
        if change is None and view.held_before == tuple(h.cidr for h in view.held):
            pairs.append((view.name, view.prefixes))
            continue
        old = set(view.current)
        if change is not None:
            old = (old - set(change.added)) | set(change.removed)
        v4, v6 = sorted_families(old | set(view.held_before))
        pairs.append((view.name, v4 + v6))
    return pairs
