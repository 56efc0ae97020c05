"""Delta manifests: a kept version written as what changed from the version before it.

A chain is a full manifest followed by at most FULL_EVERY - 1 deltas, each on the one before:
reading a version needs at most FULL_EVERY files, and damage to one loses the versions after
it in its chain, never more (history is best effort: those are reported and skipped).

A delta's columns (``names``, ``ids``, ``pack_of``) hold only the tags whose content (or
pack) differs from the base and the new ones; ``removed`` the base's tags it lacks; ``at``
the file-order position of each new tag (kept tags keep their relative order), or ``order``
with every name when kept tags moved.
Its ``packs`` lists the packs its own entries use; inherited entries use the base's.
A resolved delta's ``packs`` may list packs none of its tags use (see manifests.used_packs).

Reading resolves a delta into a whole :class:`VersionInfo` (the same one a full manifest of the
version gives), so nothing above this module knows deltas exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from tagsync.history.manifests import FULL_EVERY, PackRef, VersionInfo, columns
from tagsync.history.problems import HistoryDamaged

__all__ = ["delta_fields", "resolve", "worth_a_delta"]


def worth_a_delta(info: VersionInfo, base: VersionInfo | None) -> bool:
    """Whether ``info`` should be written as a delta on ``base`` (the version before it): the
    chain stays shorter than FULL_EVERY, and some tags are shared."""
    if base is None or base.depth + 1 >= FULL_EVERY or base.seq >= info.seq:
        return False
    base_refs = _pack_refs(base)
    changed = sum(
        1
        for name, (oid, index) in info.tags.items()
        if base_refs.get(name) != (oid, info.packs[index].id)
    )
    # Even a delta replacing most tags is smaller and quicker to read than a full manifest.
    return changed * 10 < len(info.tags) * 9


def _pack_refs(info: VersionInfo) -> dict[str, tuple[str, str]]:
    """name -> (content id, pack id)."""
    return {name: (oid, info.packs[index].id) for name, (oid, index) in info.tags.items()}


def delta_fields(info: VersionInfo, base: VersionInfo) -> dict[str, Any]:
    """The manifest fields that describe ``info`` as changes from ``base``."""
    base_refs = _pack_refs(base)
    changed = {
        name: (oid, info.packs[index])
        for name, (oid, index) in info.tags.items()
        if base_refs.get(name) != (oid, info.packs[index].id)
    }
    own: dict[str, PackRef] = {}
    for _, pack in changed.values():
        own.setdefault(pack.id, pack)
    position = {pack_id: index for index, pack_id in enumerate(own)}
    fields: dict[str, Any] = {
        "base": base.seq,
        "packs": [{"id": pack.id, "objects": pack.objects} for pack in own.values()],
        **columns({name: (oid, position[pack.id]) for name, (oid, pack) in changed.items()}),
        "removed": [name for name in base.tags if name not in info.tags],
    }
    names = list(info.tags)
    kept = [name for name in names if name in base.tags]
    if kept == [name for name in base.tags if name in info.tags]:
        fields["at"] = {name: at for at, name in enumerate(names) if name not in base.tags}
    else:
        fields["order"] = names
    return fields


def resolve(
    delta: VersionInfo,
    raw: dict[str, Any],
    resolved: Mapping[int, VersionInfo],
    bad: Callable[[str], HistoryDamaged],
) -> VersionInfo:
    """The whole version a delta manifest describes (``delta`` holds its own entries)."""
    base_seq = raw.get("base")
    if type(base_seq) is not int or not 0 < base_seq < delta.seq:
        raise bad("base")
    base = resolved.get(base_seq)
    if base is None:
        raise bad(f"its base {base_seq:08d} is missing or unreadable")
    removed, at, order = raw.get("removed"), raw.get("at"), raw.get("order")
    if not isinstance(removed, list) or not all(isinstance(name, str) for name in removed):
        raise bad("removed")
    packs = list(base.packs)
    index_of = {pack.id: index for index, pack in enumerate(packs)}
    for pack in delta.packs:
        if pack.id not in index_of:
            index_of[pack.id] = len(packs)
            packs.append(pack)
    tags = dict(base.tags)
    for name in removed:
        if tags.pop(name, None) is None:
            raise bad(f"removed tag {name!r:.80} is not in the base")
    new_names = [name for name in delta.tags if name not in tags]
    for name, (oid, index) in delta.tags.items():
        tags[name] = (oid, index_of[delta.packs[index].id])
    tags = _ordered(tags, new_names, at, order, bad)
    if not tags:
        raise bad("no tags")
    # ``packs`` may still list base packs no tag uses any more (manifests.used_packs gives the
    # used ones): pruning them here would cost a pass over every tag of every version read.
    return replace(delta, packs=tuple(packs), tags=tags, base=base_seq, depth=base.depth + 1)


def _ordered(
    tags: dict[str, tuple[str, int]],
    new_names: list[str],
    at: Any,
    order: Any,
    bad: Callable[[str], HistoryDamaged],
) -> dict[str, tuple[str, int]]:
    """``tags`` (base order, new names last) put in the version's file order."""
    if order is not None:
        if not isinstance(order, list) or len(order) != len(tags) or set(order) != set(tags):
            raise bad("order")
        return {name: tags[name] for name in order}
    if not isinstance(at, dict) or set(at) != set(new_names):
        raise bad("positions of new tags")
    if not new_names:
        return tags
    names = [name for name in tags if name not in at]
    for name, position in sorted(at.items(), key=lambda item: _position(item[1], bad)):
        if position > len(names):
            raise bad("positions of new tags")
        names.insert(position, name)
    return {name: tags[name] for name in names}


def _position(value: Any, bad: Callable[[str], HistoryDamaged]) -> int:
    if type(value) is not int or value < 0:
        raise bad("positions of new tags")
    return value
