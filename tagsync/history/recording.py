"""Adding an accepted version to the history: its new tag contents in one pack, then a manifest.

The manifest is the commit point: a crash before it leaves at most an unused pack, which the
next retention pass deletes. Retention runs after every recorded version.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from tagsync.history.manifests import PackRef, VersionInfo, canonical_json, content_id
from tagsync.history.packs import History, history_of
from tagsync.history.problems import Warn, warn_on_stderr
from tagsync.history.retention import prune
from tagsync.published import Publication, publication_of

if TYPE_CHECKING:
    from tagsync.model import ServiceTags, Tag
    from tagsync.store import SnapshotMeta, Store

__all__ = ["record", "record_accepted"]


def record_accepted(
    store: Store,
    service_tags: ServiceTags,
    meta: SnapshotMeta,
    *,
    keep: int,
    warn: Warn = warn_on_stderr,
) -> None:
    """Record a just-accepted version, keeping the newest ``keep``; call after the snapshot's
    commit point, with the store lock held.

    The snapshot is already safe, so no failure here may propagate: it becomes a warning.
    """
    try:
        problems = record(
            history_of(store),
            service_tags,
            source=meta.source,
            accepted_at=meta.accepted_at,
            keep=keep,
            published=Publication(date.fromisoformat(meta.published), meta.published_basis),
        )
    except Exception as exc:  # history is best effort once the snapshot is saved
        reason = " ".join(str(exc).split()) or type(exc).__name__
        warn(f"{store.root / 'history'}: version not recorded in history ({reason})")
        return
    for problem in problems:
        warn(problem)


def record(
    history: History,
    service_tags: ServiceTags,
    *,
    source: str,
    accepted_at: str,
    keep: int,
    published: Publication | None = None,
) -> list[str]:
    """Add an accepted version, then apply retention; returns problems met on the way.

    ``published`` defaults to what ``source`` and ``accepted_at`` give (tagsync.published).
    """
    versions, problems = history.versions()
    already_newest = bool(versions) and versions[-1].sha256 == service_tags.sha256
    if keep > 0 and not already_newest:
        publication = published or publication_of(source, accepted_at)
        _write_version(history, service_tags, source, accepted_at, versions, publication)
    return problems + prune(history, keep)


def _tag_content(tag: Tag) -> dict[str, Any]:
    return {
        "name": tag.name,
        "properties": {**tag.properties, "addressPrefixes": list(tag.prefixes)},
    }


def _usable_packs(history: History, versions: list[VersionInfo]) -> dict[str, PackRef]:
    """The intact packs of the kept versions, by id.

    A damaged pack is not reused: its contents are stored again, so new versions are whole.
    """
    usable: dict[str, PackRef] = {}
    for info in versions:
        for pack in info.packs:
            if pack.id not in usable and history.pack_intact(pack.id):
                usable[pack.id] = pack
    return usable


def _write_version(
    history: History,
    service_tags: ServiceTags,
    source: str,
    accepted_at: str,
    versions: list[VersionInfo],
    publication: Publication,
) -> None:
    usable = _usable_packs(history, versions)
    known: dict[str, str] = {}  # content id -> pack id
    for info in versions:
        for object_id, pack_index in info.tags.values():
            pack_id = info.packs[pack_index].id
            if pack_id in usable:
                known.setdefault(object_id, pack_id)
    new_objects: dict[str, Any] = {}
    refs: dict[str, str] = {}
    for name, tag in service_tags.tags.items():
        content = _tag_content(tag)
        object_id = content_id(canonical_json(content))
        refs[name] = object_id
        if object_id not in known:
            new_objects[object_id] = content
    packs: dict[str, PackRef] = {}
    if new_objects:
        new_pack = history.write_pack(new_objects)
        known.update(dict.fromkeys(new_objects, new_pack.id))
        usable[new_pack.id] = new_pack
    for object_id in refs.values():
        pack_id = known[object_id]
        packs.setdefault(pack_id, usable[pack_id])
    index = {pack_id: position for position, pack_id in enumerate(packs)}
    seq = max((seq for seq, _ in history.manifest_paths()), default=0) + 1
    info = VersionInfo(
        seq=seq,
        cloud=service_tags.cloud,
        change_number=service_tags.change_number,
        sha256=service_tags.sha256,
        accepted_at=accepted_at,
        source=source,
        packs=tuple(packs.values()),
        tags={name: (oid, index[known[oid]]) for name, oid in refs.items()},
        path=history.manifest_path(seq),
        published=publication.date.isoformat(),
        published_basis=publication.basis,
    )
    history.write_manifest(info)
