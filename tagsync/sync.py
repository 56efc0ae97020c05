"""The core workflow shared by commands: load a version, compare it, accept it into the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tagsync.clouds import Cloud
from tagsync.config import DownloadSettings
from tagsync.fetch import fetch_service_tags
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.store import Loaded, SnapshotMeta, Store
from tagsync.tagnames import find_tag, regional_variants, resolve_tags

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet

__all__ = [
    "Candidate",
    "Loaded",
    "UpdateResult",
    "accept",
    "accept_version",
    "compare_with_snapshot",
    "load_version",
    "watched_names",
]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    changes: ChangeSet
    meta: SnapshotMeta | None  # the accepted snapshot after the run
    saved: bool  # False when the new version was byte-identical to the accepted one


def load_version(
    cloud: Cloud,
    settings: DownloadSettings,
    *,
    url: str | None = None,
    file: Path | None = None,
    show_progress: bool | None = None,
    trusted_prefixes: frozenset[str] = frozenset(),
    check_all_prefixes: bool = True,
) -> Loaded:
    """Fetch (download page, URL or file) and validate one version for ``cloud``."""
    fetched = fetch_service_tags(cloud, settings, url=url, file=file, show_progress=show_progress)
    parsed = parse_service_tags(
        fetched.data,
        source=fetched.source,
        expected_cloud=cloud.file_cloud,
        trusted_prefixes=trusted_prefixes,
        check_all_prefixes=check_all_prefixes,
    )
    return Loaded(fetched, parsed)


def watched_names(
    old: ServiceTags | None, new: ServiceTags, tags: Sequence[str], *, regions: bool = False
) -> list[str]:
    """Resolve watched tag names against both versions.

    A watched tag present only in the old version stays watched (its disappearance is a change
    the mass-removal guard must see); a name in neither is an error with suggestions.
    """
    names: dict[str, None] = {}
    for name in tags:
        old_tag = find_tag(old, name) if old is not None else None
        if find_tag(new, name) is not None:
            names.update(dict.fromkeys(t.name for t in resolve_tags(new, [name], regions=regions)))
        elif old_tag is not None:
            names[old_tag.name] = None
        else:
            resolve_tags(new, [name])  # in neither version: raises with close-match suggestions
        if regions and old is not None:
            names.update(dict.fromkeys(regional_variants(old, name)))
    return list(names)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A new version compared with the snapshot and passed by the guards, not yet accepted."""

    loaded: Loaded
    old: ServiceTags | None
    names: list[str] | None  # the compared tags (None: every tag)
    changes: ChangeSet


def compare_with_snapshot(
    store: Store,
    loaded: Loaded,
    *,
    tags: Sequence[str] | None,
    regions: bool = False,
    allow_rollback: bool = False,
    force: bool = False,
    max_removal_ratio: float = 0.5,
) -> Candidate:
    """Diff ``loaded`` against the accepted snapshot and apply the guards (rollback, mass
    removal); raises GuardError when one refuses. Call with the store lock held.
    ``tags=None`` compares and guards every tag."""
    new = loaded.service_tags
    new.validate()  # nothing is accepted before every prefix in it is checked
    # Week to week nearly every prefix repeats: only the snapshot's new ones need checking.
    old = store.load(trusted_prefixes=new.distinct_prefixes)
    names = None if tags is None else watched_names(old, new, tags, regions=regions)
    # Imported here: loading a version (every command) needs neither the diff nor the guards.
    from tagsync.diff import diff_service_tags
    from tagsync.guards import check_mass_removal, check_rollback

    changes = diff_service_tags(old, new, names)
    source = loaded.fetched.source
    if not allow_rollback:
        check_rollback(old.change_number if old else None, new.change_number, source)
    if not force and old is not None:
        check_mass_removal(changes, max_removal_ratio, source)
    return Candidate(loaded, old, names, changes)


def accept(store: Store, candidate: Candidate, *, history_keep: int) -> UpdateResult:
    """Make the candidate the snapshot (a no-op when it is byte-identical to the current one)
    and record it in the history, which keeps the newest ``history_keep`` accepted versions.

    Call with the store lock held.
    """
    new, old = candidate.loaded.service_tags, candidate.old
    if old is not None and old.sha256 == new.sha256:
        return UpdateResult(candidate.changes, store.meta(), saved=False)
    # Imported here: the reading commands use this module for load_version alone.
    from tagsync.history import record_accepted

    fetched = candidate.loaded.fetched
    meta = store.save(fetched.data, new, fetched.source)
    # After the snapshot's commit point: a history failure only warns, the snapshot is kept.
    record_accepted(store, new, meta, keep=history_keep)
    return UpdateResult(candidate.changes, meta, saved=True)


def accept_version(
    store: Store,
    loaded: Loaded,
    *,
    tags: Sequence[str] | None,
    regions: bool = False,
    allow_rollback: bool = False,
    force: bool = False,
    max_removal_ratio: float = 0.5,
    history_keep: int,
) -> UpdateResult:
    """Compare ``loaded`` with the accepted snapshot and, if the guards pass, accept it.

    Call with the store lock held. Raises GuardError (and writes nothing) when a guard refuses.
    """
    candidate = compare_with_snapshot(
        store,
        loaded,
        tags=tags,
        regions=regions,
        allow_rollback=allow_rollback,
        force=force,
        max_removal_ratio=max_removal_ratio,
    )
    return accept(store, candidate, history_keep=history_keep)
