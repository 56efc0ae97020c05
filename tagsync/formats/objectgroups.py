"""Address objects collected in per-tag groups, and the add/remove plan between two versions.

Firewalls that refer to prefixes through named objects (FortiGate, Juniper SRX) or list them in
named groups (Cisco ASA) all need the same three things: a deterministic name per prefix (so
the same prefix keeps its object across runs and tags), a tag's members split into groups of
at most N, and - between two published versions - the objects and members to add before the
ones to remove, so no group or rule is ever left empty in between. This module holds them for
any such format (PAN-OS included); a format supplies only its naming rules.

With several tags watched (sensor v3.x needs two), :func:`family_layout` adds one group per IP
family over the tags' groups of that family, and the rule names those two groups only: the
union of the tags, one group per family, however the tags and their groups come and go.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tagsync.errors import ConfigError
from tagsync.prefixes import sorted_families

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet
    from tagsync.formats.base import TagView

__all__ = [
    "DIGEST_LENGTH",
    "Layout",
    "Plan",
    "family_layout",
    "family_pairs",
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
    # group name -> member names (objects; a family group's members are groups), members
    # always before the groups holding them
    groups: dict[str, tuple[str, ...]]
    key_groups: dict[str, list[str]] = field(default_factory=dict)  # key -> its group names
    # Nested layouts (family_layout): "v4"/"v6" -> the family's group, for families present.
    families: dict[str, str] | None = None

    @property
    def tag_groups(self) -> dict[str, list[str]]:
        """``key_groups`` under the name user templates read as ``panos.tag_groups``."""
        return self.key_groups

    @property
    def rule_groups(self) -> list[str]:
        """The groups the rule (policy, ACL) names: every group, or one per family."""
        return list(self.groups) if self.families is None else list(self.families.values())

    @property
    def parents(self) -> frozenset[str]:
        """The groups whose members are groups (the family groups of a nested layout)."""
        return frozenset(self.families.values()) if self.families else frozenset()


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


def family_pairs(pairs: Iterable[tuple[str, Sequence[str]]]) -> list[tuple[str, list[str]]]:
    """``[("v4", union), ("v6", union)]``: every key's prefixes, distinct and sorted per family."""
    v4, v6 = sorted_families(prefix for _, prefixes in pairs for prefix in prefixes)
    return [("v4", v4), ("v6", v6)]


def family_layout(
    keyed: Sequence[tuple[str, Sequence[str]]],
    object_names: Callable[[Sequence[str]], list[str]],
    group_names: Callable[[str, str, int], list[str]],
    family_names: Callable[[str], str],
    limit: int,
    limit_setting: str,
) -> Layout:
    """Objects, per key and family the groups of at most ``limit`` members (named by
    ``group_names(key, "v4"|"v6", count)``), and per family present one group holding that
    family's groups (``family_names("v4")``), which the rule names. A prefix in several keys
    is one object, a member of each key's group: the family group holds exactly the union."""
    objects: dict[str, str] = {}
    groups: dict[str, tuple[str, ...]] = {}
    key_groups: dict[str, list[str]] = {key: [] for key, _ in keyed}
    families: dict[str, str] = {}
    for family in ("v4", "v6"):
        v6 = family == "v6"
        part = layout(
            [(key, [p for p in prefixes if (":" in p) == v6]) for key, prefixes in keyed],
            object_names,
            functools.partial(_family_group_names, group_names, family),
            limit,
        )
        if not part.groups:
            continue
        top = family_names(family)
        if len(part.groups) > limit:
            raise ConfigError(
                f"the selected tags need {len(part.groups)} IPv{family[1]} groups, more than "
                f"{limit_setting} ({limit}) allows in {top}; select fewer tags or raise the limit"
            )
        for name, prefix in part.objects.items():
            objects.setdefault(name, prefix)
        groups.update(part.groups)
        groups[top] = tuple(part.groups)  # after its members: created last, deleted first
        families[family] = top
        for key, names in part.key_groups.items():
            key_groups[key] += names
    return Layout(objects, groups, key_groups, families)


def _family_group_names(
    names: Callable[[str, str, int], list[str]], family: str, key: str, count: int
) -> list[str]:
    return names(key, family, count)


@dataclass(frozen=True, slots=True)
class Plan:
    """What turns one layout into another, in the order the commands must run: additions
    first, then removals, so no group or rule is ever left empty in between."""

    added_objects: list[tuple[str, str]]  # (name, prefix)
    member_adds: list[tuple[str, list[str]]]  # (group, members); creates new groups too
    added_groups: list[str]
    # Groups to delete, a family group before the groups it holds. Run the removals in this
    # order: the rule's removed groups, member_removals (a family group lets go of a group
    # before it is deleted), removed_groups, removed_objects.
    removed_groups: list[str]
    member_removals: list[tuple[str, list[str]]]  # (group, members) of groups that stay
    removed_objects: list[tuple[str, str]]  # (name, prefix)
    added_rule_groups: list[str] = field(default_factory=list)  # groups the rule names anew
    removed_rule_groups: list[str] = field(default_factory=list)  # groups it names no longer

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
    removed = [g for g in old.groups if g not in new.groups]
    return Plan(
        added_objects=added_objects,
        member_adds=member_adds,
        added_groups=[g for g in new.groups if g not in old.groups],
        # Holders first (a stable sort keeps the layout's order otherwise).
        removed_groups=sorted(removed, key=lambda g: g not in old.parents),
        member_removals=member_removals,
        removed_objects=removed_objects,
        added_rule_groups=[g for g in new.rule_groups if g not in old.rule_groups],
        removed_rule_groups=[g for g in old.rule_groups if g not in new.rule_groups],
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
