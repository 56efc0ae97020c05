"""PAN-OS naming, group chunking and the add/remove plan for incremental commands.

Object names come from the prefix itself (``tagsync-n-20.36.0.0/14`` -> ``tagsync-n-20-36-0-0_14``)
so the same prefix always gets the same name across runs and tags; group names come from the
tag. Both stay within PAN-OS's 63 characters of letters, digits, ``_`` and ``-``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Layout", "Plan", "group_names", "layout", "object_name", "object_names", "plan"]

MAX_NAME = 63


def object_name(prefix: str, name_prefix: str) -> str:
    """Deterministic address object name for a canonical CIDR prefix.

    IPv4 dots and IPv6 colons both become ``-``: IPv4 text always has exactly three single
    separators while compressed IPv6 has seven or a ``::`` (``--``), so names never collide.
    """
    address, _, length = prefix.partition("/")
    return f"{name_prefix}n-{address.replace('.', '-').replace(':', '-')}_{length}"


def object_names(prefixes: Sequence[str], name_prefix: str) -> list[str]:
    """:func:`object_name` for a whole list, as three replacements over the joined text.

    Equivalent because a canonical prefix has one "/" and no "." or ":" after it.
    """
    if not prefixes:
        return []
    body = "\n".join(prefixes).replace(".", "-").replace(":", "-").replace("/", "_")
    return list(map(f"{name_prefix}n-".__add__, body.split("\n")))


def _group_base(tag_name: str, name_prefix: str, room: int) -> str:
    slug = tag_name.replace(".", "_")
    base = f"{name_prefix}g-{slug}"
    if len(base) <= MAX_NAME - room:
        return base
    # Too long for PAN-OS: keep a readable start and make it unique with a short digest.
    digest = hashlib.sha256(tag_name.encode()).hexdigest()[:8]
    return f"{base[: MAX_NAME - room - 9]}-{digest}"


def group_names(tag_name: str, name_prefix: str, count: int) -> list[str]:
    """Names of the ``count`` groups holding one tag (numbered only when split)."""
    if count == 1:
        return [_group_base(tag_name, name_prefix, 0)]
    width = len(str(count))
    base = _group_base(tag_name, name_prefix, width + 1)
    return [f"{base}-{index:0{width}d}" for index in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class Layout:
    """The PAN-OS objects for a selection: address objects and per-tag static groups."""

    objects: dict[str, str]  # object name -> prefix, in first-seen (numeric) order
    groups: dict[str, tuple[str, ...]]  # group name -> member object names
    tag_groups: dict[str, list[str]] = field(default_factory=dict)  # tag -> its group names


def layout(tags: Sequence[tuple[str, Sequence[str]]], name_prefix: str, limit: int) -> Layout:
    """Objects and groups for ``(tag name, sorted prefixes)`` pairs; groups hold <= limit."""
    objects: dict[str, str] = {}
    groups: dict[str, tuple[str, ...]] = {}
    tag_groups: dict[str, list[str]] = {}
    for tag_name, prefixes in tags:
        names = object_names(prefixes, name_prefix)
        for name, prefix in zip(names, prefixes, strict=True):
            objects.setdefault(name, prefix)
        chunks = [names[i : i + limit] for i in range(0, len(names), limit)]
        tag_groups[tag_name] = group_names(tag_name, name_prefix, len(chunks)) if chunks else []
        for group, members in zip(tag_groups[tag_name], chunks, strict=True):
            groups[group] = tuple(members)
    return Layout(objects, groups, tag_groups)


@dataclass(frozen=True, slots=True)
class Plan:
    """What turns the old layout into the new one, in the order the commands must run."""

    added_objects: list[tuple[str, str]]  # (name, prefix)
    member_adds: list[tuple[str, list[str]]]  # (group, members); creates new groups too
    added_groups: list[str]
    removed_groups: list[str]
    member_removals: list[tuple[str, str]]  # (group, member) in groups that stay
    removed_objects: list[tuple[str, str]]  # (name, prefix)

    @property
    def member_add_count(self) -> int:
        return sum(len(members) for _, members in self.member_adds)

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
    """Compare two layouts: objects and group members to set, then to delete."""
    added_objects = [(n, p) for n, p in new.objects.items() if n not in old.objects]
    removed_objects = [(n, p) for n, p in old.objects.items() if n not in new.objects]
    member_adds: list[tuple[str, list[str]]] = []
    member_removals: list[tuple[str, str]] = []
    for group, members in new.groups.items():
        before = set(old.groups.get(group, ()))
        adds = [m for m in members if m not in before]
        if adds:
            member_adds.append((group, adds))
        if group in old.groups:
            now = set(members)
            member_removals.extend((group, m) for m in old.groups[group] if m not in now)
    return Plan(
        added_objects=added_objects,
        member_adds=member_adds,
        added_groups=[g for g in new.groups if g not in old.groups],
        removed_groups=[g for g in old.groups if g not in new.groups],
        member_removals=member_removals,
        removed_objects=removed_objects,
    )
