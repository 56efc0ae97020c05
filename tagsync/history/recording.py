"""Adding an accepted version to the history: its new tag contents in one pack, then a manifest.

The manifest is the commit point: a crash before it leaves at most an unused pack, which the
next retention pass deletes. Retention runs after every recorded version.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from tagsync.history.packs import History, history_of
from tagsync.history.problems import Warn, warn_on_stderr
from tagsync.history.retention import prune
from tagsync.history.writing import Contents, tag_refs
from tagsync.published import Publication, publication_of

if TYPE_CHECKING:
    from tagsync.history.manifests import VersionInfo
    from tagsync.model import ServiceTags
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


def _write_version(
    history: History,
    service_tags: ServiceTags,
    source: str,
    accepted_at: str,
    versions: list[VersionInfo],
    publication: Publication,
) -> None:
    contents = Contents(history, versions)
    refs, by_id = tag_refs(service_tags)
    contents.add(refs, by_id)
    seq = max((seq for seq, _ in history.manifest_paths()), default=0) + 1
    info = contents.manifest(
        seq,
        cloud=service_tags.cloud,
        change_number=service_tags.change_number,
        sha256=service_tags.sha256,
        accepted_at=accepted_at,
        source=source,
        publication=publication,
        refs=refs,
    )
    history.write_manifest(info, versions[-1] if versions else None)
