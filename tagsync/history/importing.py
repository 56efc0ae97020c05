"""Back-filling the history from old published files (`tagsync history import FILE...`).

Rules, in the order they apply:

- every file is read and validated like ``update --file`` (cloud, JSON, prefixes); a file that
  fails is reported in one line naming it and the others are still imported;
- the same bytes twice (sha256), given twice or already kept, are one version;
- kept and imported versions are put in publication order: files whose name carries
  ``ServiceTags_<Cloud>_YYYYMMDD`` by that date, ties by top-level changeNumber, then sha256;
  a file without a dated name goes just before the first dated version with a higher
  changeNumber (ties: after those with an equal one, then by sha256);
- the accepted snapshot stays the newest kept version: import never accepts anything, and a
  file ordered after the snapshot is left out (accept it with ``tagsync update --file``); a
  snapshot missing from the history (history enabled late) is added as its newest version;
- consecutive versions with the same tags (a release that bumps only the top-level
  changeNumber) are one: the earliest imported file stands for them, and a kept version
  always wins over an imported one;
- ``history: {keep: N}`` still holds: the oldest versions past N are left out and reported.

Nothing is written when nothing new would be kept, so importing the same files twice changes
nothing. Otherwise every kept manifest is rewritten under new sequence numbers (above the old
ones) before the old manifests go: a crash in between leaves every version readable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.errors import ConfigError, DataError
from tagsync.history.packs import History, history_of
from tagsync.history.retention import prune
from tagsync.history.writing import Contents, tag_refs
from tagsync.published import FROM_FILE_NAME, Publication, publication_of

if TYPE_CHECKING:
    from tagsync.history.manifests import VersionInfo
    from tagsync.store import Store

__all__ = ["ImportOutcome", "import_files"]


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did: one line per file, by what happened to it."""

    imported: tuple[str, ...]  # "PATH: changeNumber N, published D (basis)", oldest first
    skipped: tuple[str, ...]  # readable files not added, and why
    failed: tuple[str, ...]  # files that could not be read or validated (the line names them)
    kept: int  # kept versions afterwards
    problems: tuple[str, ...] = ()  # damaged history entries met (skipped)


@dataclass(slots=True)
class _Item:
    """A version to place: a kept one (``info`` set), the snapshot, or a file to import."""

    source: str
    cloud: str
    change_number: int
    sha256: str
    accepted_at: str
    publication: Publication
    refs: dict[str, str] = field(repr=False)  # tag name -> content id, file order
    info: VersionInfo | None = None
    snapshot: bool = False
    tags_key: bytes = field(init=False, repr=False)  # equal for equal tags, any changeNumber

    def __post_init__(self) -> None:
        text = "\n".join(f"{name}\t{oid}" for name, oid in self.refs.items())
        self.tags_key = hashlib.sha256(text.encode()).digest()

    @property
    def imported(self) -> bool:
        return self.info is None and not self.snapshot

    @property
    def dated(self) -> date | None:
        publication = self.publication
        return publication.date if publication.basis == FROM_FILE_NAME else None

    def line(self) -> str:
        published = self.publication.date.isoformat()
        return (
            f"{self.source}: changeNumber {self.change_number}, published {published} "
            f"({self.publication.basis})"
        )


def _kept_item(info: VersionInfo) -> _Item:
    publication = Publication(date.fromisoformat(info.published), info.published_basis)
    refs = {name: oid for name, (oid, _) in info.tags.items()}
    return _Item(
        info.source,
        info.cloud,
        info.change_number,
        info.sha256,
        info.accepted_at,
        publication,
        refs,
        info=info,
    )


def publication_order(items: Sequence[_Item]) -> list[_Item]:
    """The rule in the module docstring: dated by date, undated slotted in by changeNumber."""
    dated = sorted(
        (item for item in items if item.dated is not None),
        key=lambda item: (item.dated, item.change_number, item.sha256),
    )
    slots: dict[int, list[_Item]] = {}
    for item in sorted(
        (item for item in items if item.dated is None),
        key=lambda item: (item.change_number, item.sha256),
    ):
        position = next(
            (i for i, other in enumerate(dated) if other.change_number > item.change_number),
            len(dated),
        )
        slots.setdefault(position, []).append(item)
    ordered: list[_Item] = []
    for position in range(len(dated) + 1):
        ordered.extend(slots.get(position, ()))
        if position < len(dated):
            ordered.append(dated[position])
    return ordered


@dataclass(slots=True)
class _Reading:
    """What reading one file leaves for the next: most of it repeats."""

    trusted: frozenset[str] = frozenset()  # the last file's prefixes, all checked valid
    seen: dict[Hashable, str] = field(default_factory=dict)  # tag content -> content id


def _read(
    path: Path, file_cloud: str, max_bytes: int, reading: _Reading, now: str
) -> tuple[_Item, dict[str, Any]]:
    """Read and validate one file (like `update --file`); its item and tag contents by id."""
    from tagsync.fetch import read_file
    from tagsync.model import parse_service_tags

    fetched = read_file(path, max_bytes)
    parsed = parse_service_tags(
        fetched.data,
        source=fetched.source,
        expected_cloud=file_cloud,
        # Files a week apart repeat nearly every prefix: only new ones need checking.
        trusted_prefixes=reading.trusted,
    )
    reading.trusted = parsed.distinct_prefixes
    refs, contents = tag_refs(parsed, reading.seen)
    item = _Item(
        fetched.source,
        parsed.cloud,
        parsed.change_number,
        parsed.sha256,
        now,
        publication_of(fetched.source, now),
        refs,
    )
    return item, contents


def import_files(
    store: Store, paths: Sequence[Path], *, keep: int, max_bytes: int, now: str | None = None
) -> ImportOutcome:
    """Add the versions in ``paths`` to ``store``'s history; call with the store lock held."""
    if keep == 0:
        raise ConfigError("history is off (history: {keep: 0}); nothing to import into")
    now = now or datetime.now(UTC).replace(microsecond=0).isoformat()
    history = history_of(store)
    versions, problems = history.versions()
    kept = [_kept_item(info) for info in versions]
    by_sha = {item.sha256: item for item in kept}  # a rewritten duplicate: the newest wins
    failed: list[str] = []
    skipped: list[str] = []
    contents: dict[str, Any] = {}
    items: list[_Item] = []
    reading = _Reading()
    for path in paths:
        try:
            item, found = _read(path, store.cloud.file_cloud, max_bytes, reading, now)
        except DataError as exc:
            failed.append(exc.message)
            continue
        same = by_sha.get(item.sha256)
        if same is not None:
            if same.imported:
                twice = same.source == item.source
                what = "given twice" if twice else f"same file as {same.source}"
            else:
                kind = "a kept version" if same.info else "the accepted snapshot"
                what = f"same file as {kind} (changeNumber {same.change_number})"
            skipped.append(f"{item.source}: {what}")
            continue
        by_sha[item.sha256] = item
        items.append(item)
        contents.update({oid: found[oid] for oid in item.refs.values() if oid not in contents})
    snapshot = _snapshot_item(store, versions, by_sha, contents)
    if snapshot is not None:
        items.append(snapshot)
    order = _placed(kept, items, skipped)
    order = _collapsed(order, skipped)
    if len(order) > keep:
        for item in order[: len(order) - keep]:
            if not item.info:
                skipped.append(f"{item.source}: older than the {keep} versions history keeps")
        order = order[len(order) - keep :]
    added = [item for item in order if item.info is None]
    if added:
        _write(history, versions, order, contents)
        problems += prune(history, keep)
    return ImportOutcome(
        imported=tuple(item.line() for item in added if item.imported),
        skipped=tuple(skipped),
        failed=tuple(failed),
        kept=len(order) if added else len(versions),
        problems=tuple(problems),
    )


def _snapshot_item(
    store: Store, versions: list[VersionInfo], by_sha: dict[str, _Item], contents: dict[str, Any]
) -> _Item | None:
    """The accepted snapshot: a kept version (marked), or a new item when history lacks it."""
    meta = store.meta()
    if meta is None:
        return None
    for item in by_sha.values():
        if item.sha256 == meta.sha256 and item.info is not None:
            item.snapshot = True
            return None
    loaded = store.load_accepted()
    if loaded is None:
        return None
    refs, found = tag_refs(loaded.service_tags)
    contents.update(found)
    publication = Publication(date.fromisoformat(meta.published), meta.published_basis)
    item = _Item(
        meta.source,
        meta.cloud,
        meta.change_number,
        meta.sha256,
        meta.accepted_at,
        publication,
        refs,
        snapshot=True,
    )
    by_sha[item.sha256] = item
    return item


def _placed(kept: list[_Item], items: list[_Item], skipped: list[str]) -> list[_Item]:
    """Kept and new versions in publication order, the snapshot last, newer files left out."""
    unique = {item.sha256: item for item in kept}  # a crash mid-rewrite may leave duplicates
    unique.update((item.sha256, item) for item in items)
    order = publication_order(list(unique.values()))
    ceiling = next((i for i, item in enumerate(order) if item.snapshot), None)
    if ceiling is None:
        return order
    snapshot = order[ceiling]
    after = order[ceiling + 1 :]
    for item in after:
        if item.imported:
            skipped.append(
                f"{item.source}: newer than the accepted snapshot (changeNumber "
                f"{snapshot.change_number}); import only fills history, accept it with "
                f"`tagsync update --file {item.source}`"
            )
    # Kept versions published after the snapshot (it was a rollback) stay, just before it.
    return [*order[:ceiling], *(item for item in after if item.info), snapshot]


def _collapsed(order: list[_Item], skipped: list[str]) -> list[_Item]:
    """Runs of consecutive versions with the same tags become one (see the module docstring)."""
    result: list[_Item] = []
    run: list[_Item] = []
    for item in [*order, None]:
        if item is not None and run and item.tags_key == run[0].tags_key:
            run.append(item)
            continue
        if run:
            staying = [one for one in run if not one.imported] or run[:1]
            for one in run:
                if one.imported and one not in staying:
                    other = staying[0]
                    skipped.append(
                        f"{one.source}: same tags as {other.source} (changeNumber "
                        f"{other.change_number}); only the top-level changeNumber differs"
                    )
            result.extend(staying)
        run = [item] if item is not None else []
    return result


def _write(
    history: History, versions: list[VersionInfo], order: list[_Item], contents: dict[str, Any]
) -> None:
    """Write packs and manifests for ``order``; kept manifests are rewritten only if they move.

    Retention (``prune``, run next) removes the oldest kept versions that ``order`` left out.
    """
    store = Contents(history, versions)
    old_paths = [path for _, path in history.manifest_paths()]
    seq = max((seq for seq, _ in history.manifest_paths()), default=0)
    staying = [item.info for item in order if item.info is not None]
    # New versions only after the kept ones, which keep their order: those manifests stay.
    appending = (
        all(item.info is not None for item in order[: len(staying)])
        and staying == (versions[len(versions) - len(staying) :])
    )
    base: VersionInfo | None = None  # the version just written (or kept) before this one
    for item in order:
        if appending and item.info is not None:
            base = item.info
            continue
        seq += 1
        if item.info is not None:
            moved = replace(item.info, seq=seq, path=history.manifest_path(seq))
            base = history.write_manifest(moved, base)
            continue
        store.add(item.refs, contents)
        info = store.manifest(
            seq,
            cloud=item.cloud,
            change_number=item.change_number,
            sha256=item.sha256,
            accepted_at=item.accepted_at,
            source=item.source,
            publication=item.publication,
            refs=item.refs,
        )
        base = history.write_manifest(info, base)
    if not appending:
        history.delete_manifests(old_paths)
