"""How many accepted versions the history keeps, and removing the rest.

Retention deletes manifests first, then packs no kept manifest uses, and rewrites packs that are
mostly garbage (new pack, then manifests, then the old pack goes): a crash at any moment leaves
every kept version readable. Runs with the store lock held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.errors import ConfigError

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.history.manifests import PackRef, VersionInfo
    from tagsync.history.packs import History

__all__ = ["DEFAULT_KEEP", "MAX_KEEP", "keep_setting", "prune"]

DEFAULT_KEEP = 52  # a year of weekly updates
MAX_KEEP = 10_000


def keep_setting(config: Config) -> int:
    """The ``history: {keep: N}`` section: how many accepted versions to keep (0: none)."""
    section = config.section("history")
    where = f"{config.path or 'config'}: history"
    if section is None:
        return DEFAULT_KEEP
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a mapping like {{keep: {DEFAULT_KEEP}}}")
    # removal_grace is read by tagsync.grace, beside keep.
    known = ("keep", "removal_grace")
    unknown = sorted(map(str, set(section) - set(known)))
    if unknown:
        from tagsync.suggest import did_you_mean

        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
            f"known: {', '.join(known)}"
        )
    keep = section.get("keep", DEFAULT_KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or not 0 <= keep <= MAX_KEEP:
        raise ConfigError(f"{where}.keep must be a whole number from 0 to {MAX_KEEP}")
    return keep


def prune(history: History, keep: int) -> list[str]:
    """Keep the newest ``keep`` manifests; drop packs no kept manifest uses; compact.

    Returns a problem line per damaged manifest met.
    """
    # Imported here: every command reads keep_setting, only accepting a version prunes.
    from tagsync.history.manifests import used_packs

    paths = [path for _, path in history.manifest_paths()]
    dropped = paths[: max(0, len(paths) - keep)]
    if dropped:
        _rebase(history, set(dropped))
    history.delete_manifests(dropped)
    versions, problems = history.versions()
    _compact(history, versions)
    # Read again: compaction may just have repointed manifests to a new pack.
    kept, _ = history.versions()
    history.delete_packs_except(pack.id for info in kept for pack in used_packs(info))
    return problems


def _rebase(history: History, dropped: set[Path]) -> None:
    """Rewrite as full every kept delta whose base is about to be deleted (before deleting)."""
    versions, _ = history.versions()
    by_seq = {info.seq: info for info in versions}
    for info in versions:
        if info.path in dropped or info.base is None:
            continue
        base = by_seq.get(info.base)
        if base is None or base.path in dropped:
            history.write_manifest(info)


def _compact(history: History, versions: list[VersionInfo]) -> None:
    """Rewrite packs that are mostly garbage: the live contents move to one new pack."""
    live: dict[str, set[str]] = {}
    totals: dict[str, int] = {}
    for info in versions:
        for object_id, pack_index in info.tags.values():
            pack = info.packs[pack_index]
            live.setdefault(pack.id, set()).add(object_id)
            totals[pack.id] = pack.objects
    sparse = [pid for pid, ids in live.items() if len(ids) * 2 < totals[pid]]
    moved: dict[str, Any] = {}
    for pack_id in sparse:
        if history.pack_intact(pack_id):
            objects = history.read_pack(pack_id)
            moved.update({oid: objects[oid] for oid in live[pack_id] if oid in objects})
    if not moved:
        return
    new_pack = history.write_pack(moved)
    current: dict[int, VersionInfo] = {}  # as each version now reads back
    for info in versions:
        base = current.get(info.base) if info.base is not None else None
        current[info.seq] = _repoint(history, info, moved, new_pack, base)
    # The old packs are now unused: prune deletes them next.


def _repoint(
    history: History,
    info: VersionInfo,
    moved: Mapping[str, Any],
    new_pack: PackRef,
    base: VersionInfo | None,
) -> VersionInfo:
    """Rewrite one manifest so the contents in ``moved`` come from ``new_pack``."""
    if not any(oid in moved for oid, _ in info.tags.values()):
        return info
    packs: dict[str, PackRef] = {}
    targets: dict[str, PackRef] = {}
    for name, (object_id, pack_index) in info.tags.items():
        pack = new_pack if object_id in moved else info.packs[pack_index]
        packs.setdefault(pack.id, pack)
        targets[name] = pack
    index = {pack_id: position for position, pack_id in enumerate(packs)}
    tags = {name: (oid, index[targets[name].id]) for name, (oid, _) in info.tags.items()}
    return history.write_manifest(replace(info, packs=tuple(packs.values()), tags=tags), base)
