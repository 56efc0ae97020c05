"""The last N accepted versions of one cloud, stored compactly, and what changed per tag.

Layout, beside the snapshot (``STATE_DIR/<cloud>/history/``)::

    versions/<seq>.json.gz  one manifest per accepted version: changeNumber, sha256, accepted_at,
                            source, the packs it uses and, per tag in file order, the id of the
                            tag's content and the pack holding it
    packs/<id>.json.gz      the tag contents new in one accepted version, keyed by content id

A tag's content id is the sha256 of its canonical JSON, so a tag unchanged across weeks is stored
once; a pack's id is the sha256 of its file, so damage is detected. Packs instead of one file per
tag: ~3,000 tags of a few hundred bytes would each take a 4 KiB disk block.

Writes happen with the store lock held: a new pack, then the manifest (the commit point), then
retention. Retention deletes manifests first, then packs no manifest uses, and rewrites packs that
are mostly garbage (new pack, manifests, old pack): a crash leaves every kept version readable.
A damaged entry is reported as a problem and skipped; it never stops a command.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.atomic import atomic_write_bytes, fsync_directory
from tagsync.errors import ConfigError, DataError, UnknownTagError
from tagsync.model import (
    ServiceTags,
    Tag,
    match_tag_name,
    parse_service_tags,
    suggestion_hint,
)
from tagsync.prefixes import sort_prefixes

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.store import SnapshotMeta, Store

__all__ = [
    "DEFAULT_KEEP",
    "History",
    "TagHistory",
    "TagVersion",
    "VersionInfo",
    "history_of",
    "keep_setting",
    "record_accepted",
    "version_back",
]

DEFAULT_KEEP = 52
MAX_KEEP = 10_000
FORMAT = 1
_ID = re.compile(r"[0-9a-f]{32}")
_MANIFEST_NAME = re.compile(r"([0-9]{8})\.json\.gz")
_PACK_NAME = re.compile(r"([0-9a-f]{32})\.json\.gz")

Warn = Callable[[str], None]


class HistoryDamaged(DataError):
    """A history entry that cannot be read back (corrupt, truncated, missing pack)."""


def keep_setting(config: Config) -> int:
    """The ``history: {keep: N}`` section: how many accepted versions to keep (0: none)."""
    section = config.section("history")
    where = f"{config.path or 'config'}: history"
    if section is None:
        return DEFAULT_KEEP
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a mapping like {{keep: {DEFAULT_KEEP}}}")
    unknown = set(section) - {"keep"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    keep = section.get("keep", DEFAULT_KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or not 0 <= keep <= MAX_KEEP:
        raise ConfigError(f"{where}.keep must be a whole number from 0 to {MAX_KEEP}")
    return keep


@dataclass(frozen=True, slots=True)
class PackRef:
    id: str
    objects: int  # how many contents the pack holds, live or not (for retention)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One kept accepted version, as its manifest describes it."""

    seq: int
    cloud: str
    change_number: int
    sha256: str
    accepted_at: str
    source: str
    packs: tuple[PackRef, ...]
    tags: Mapping[str, tuple[str, int]] = field(repr=False)  # name -> (content id, pack index)
    path: Path = field(compare=False)


@dataclass(frozen=True, slots=True)
class TagVersion:
    """One tag in one kept version, compared with the previous readable kept version."""

    seq: int
    change_number: int
    accepted_at: str
    present: bool
    tag_change_number: int | None
    prefix_count: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    first: bool  # no earlier kept version to compare with

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_number": self.change_number,
            "accepted_at": self.accepted_at,
            "present": self.present,
            "tag_change_number": self.tag_change_number,
            "prefix_count": self.prefix_count,
            "first_kept": self.first,
            "added": list(self.added),
            "removed": list(self.removed),
        }


@dataclass(frozen=True, slots=True)
class TagHistory:
    """The kept versions of one tag, newest first, and the damaged entries skipped."""

    cloud: str
    name: str
    versions: tuple[TagVersion, ...]
    problems: tuple[str, ...] = ()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _gzip(data: bytes) -> bytes:
    # mtime=0: the same content gives the same bytes, hence the same pack id.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _tag_content(tag: Tag) -> dict[str, Any]:
    return {
        "name": tag.name,
        "properties": {**tag.properties, "addressPrefixes": list(tag.prefixes)},
    }


def _read_gzip_json(path: Path) -> Any:
    """Decompress and parse; any failure becomes HistoryDamaged with a one-line reason."""
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        raise HistoryDamaged(f"{path}: missing") from None
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise HistoryDamaged(f"{path}: damaged ({type(exc).__name__})") from None


def _parse_manifest(raw: Any, seq: int, path: Path) -> VersionInfo:
    def bad(what: str) -> HistoryDamaged:
        return HistoryDamaged(f"{path}: damaged manifest ({what})")

    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise bad("unknown format")
    text = {key: raw.get(key) for key in ("cloud", "sha256", "accepted_at", "source")}
    if not all(isinstance(value, str) for value in text.values()):
        raise bad("missing fields")
    number = raw.get("change_number")
    if isinstance(number, bool) or not isinstance(number, int):
        raise bad("change_number")
    packs_raw, tags_raw = raw.get("packs"), raw.get("tags")
    if not isinstance(packs_raw, list) or not isinstance(tags_raw, dict) or not tags_raw:
        raise bad("packs or tags")
    packs: list[PackRef] = []
    for entry in packs_raw:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and _ID.fullmatch(entry["id"])
            and isinstance(entry.get("objects"), int)
        ):
            raise bad("pack reference")
        packs.append(PackRef(entry["id"], entry["objects"]))
    tags: dict[str, tuple[str, int]] = {}
    for name, ref in tags_raw.items():
        if not (
            isinstance(ref, list)
            and len(ref) == 2
            and isinstance(ref[0], str)
            and _ID.fullmatch(ref[0])
            and type(ref[1]) is int
            and 0 <= ref[1] < len(packs)
        ):
            raise bad(f"reference of tag {name!r:.80}")
        tags[name] = (ref[0], ref[1])
    return VersionInfo(
        seq=seq,
        cloud=str(text["cloud"]),
        change_number=number,
        sha256=str(text["sha256"]),
        accepted_at=str(text["accepted_at"]),
        source=str(text["source"]),
        packs=tuple(packs),
        tags=tags,
        path=path,
    )


def _manifest_document(info: VersionInfo) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "cloud": info.cloud,
        "change_number": info.change_number,
        "sha256": info.sha256,
        "accepted_at": info.accepted_at,
        "source": info.source,
        "packs": [{"id": pack.id, "objects": pack.objects} for pack in info.packs],
        "tags": {name: [object_id, pack] for name, (object_id, pack) in info.tags.items()},
    }


class History:
    """The kept versions of one cloud (``STATE_DIR/<cloud>/history``)."""

    def __init__(self, root: Path, file_cloud: str) -> None:
        self.root = root
        self.file_cloud = file_cloud
        self.versions_dir = root / "versions"
        self.packs_dir = root / "packs"
        self._packs: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, Tag] = {}

    # --- reading ----------------------------------------------------------------------------
    def _manifest_paths(self) -> list[tuple[int, Path]]:
        """(seq, path) of every manifest file, oldest first; other files are ignored."""
        try:
            names = [entry.name for entry in self.versions_dir.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for name in names:
            match = _MANIFEST_NAME.fullmatch(name)
            if match:
                found.append((int(match.group(1)), self.versions_dir / name))
        return sorted(found)

    def versions(self) -> tuple[list[VersionInfo], list[str]]:
        """The readable kept versions, oldest first, and a problem line per damaged one."""
        versions: list[VersionInfo] = []
        problems: list[str] = []
        for seq, path in self._manifest_paths():
            try:
                versions.append(_parse_manifest(_read_gzip_json(path), seq, path))
            except HistoryDamaged as exc:
                problems.append(f"{exc.message}; skipped")
        return versions, problems

    def _pack(self, pack_id: str) -> dict[str, Any]:
        """The contents of a pack, checked against its id (cached for this run)."""
        cached = self._packs.get(pack_id)
        if cached is not None:
            return cached
        path = self.packs_dir / f"{pack_id}.json.gz"
        try:
            data = path.read_bytes()
        except OSError:
            raise HistoryDamaged(f"{path}: pack is missing") from None
        if _digest(data) != pack_id:
            raise HistoryDamaged(f"{path}: pack is damaged (checksum mismatch)")
        try:
            document = json.loads(gzip.decompress(data))
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise HistoryDamaged(f"{path}: pack is damaged ({type(exc).__name__})") from None
        objects = document.get("objects") if isinstance(document, dict) else None
        if not isinstance(objects, dict):
            raise HistoryDamaged(f"{path}: pack is damaged (no objects)")
        self._packs[pack_id] = objects
        return objects

    def _content(self, info: VersionInfo, name: str) -> Any:
        object_id, pack_index = info.tags[name]
        pack = info.packs[pack_index]
        content = self._pack(pack.id).get(object_id)
        if not isinstance(content, dict) or content.get("name") != name:
            raise HistoryDamaged(f"{info.path}: tag {name} is missing from pack {pack.id}")
        return content

    def _parsed(self, contents: list[Any], info: VersionInfo) -> ServiceTags:
        # Rebuilt through the normal validator: history files are data like any other.
        document = {"changeNumber": info.change_number, "cloud": info.cloud, "values": contents}
        try:
            parsed = parse_service_tags(
                _canonical(document), source=str(info.path), expected_cloud=self.file_cloud
            )
        except DataError as exc:
            raise HistoryDamaged(exc.message) from None
        return replace(parsed, sha256=info.sha256, source=f"{info.path} ({info.source})")

    def load(self, info: VersionInfo, names: Sequence[str] | None = None) -> ServiceTags:
        """A kept version as a ServiceTags (all tags, or only ``names`` that it has)."""
        wanted = list(info.tags) if names is None else [n for n in names if n in info.tags]
        if not wanted:
            raise HistoryDamaged(f"{info.path}: none of the requested tags are in this version")
        return self._parsed([self._content(info, name) for name in wanted], info)

    def _tag(self, info: VersionInfo, name: str) -> Tag:
        object_id = info.tags[name][0]
        tag = self._tags.get(object_id)
        if tag is None:
            tag = self._parsed([self._content(info, name)], info).tags[name]
            self._tags[object_id] = tag
        return tag

    def tag_history(self, name: str) -> TagHistory:
        """Per kept version (newest first): the tag's changeNumber and prefixes added/removed."""
        versions, problems = self.versions()
        if not versions:
            raise DataError(
                f"{self.root}: no kept versions yet (history starts with the next accepted update)"
            )
        exact = _resolve_name(versions, name, self.root)
        rows: list[TagVersion] = []
        previous: set[str] | None = None
        for info in versions:
            tag: Tag | None = None
            if exact in info.tags:
                try:
                    tag = self._tag(info, exact)
                except HistoryDamaged as exc:
                    problems.append(f"{exc.message}; skipped")
                    continue
            current = set(tag.prefixes) if tag else set()
            first = previous is None
            base = previous or set()
            rows.append(
                TagVersion(
                    seq=info.seq,
                    change_number=info.change_number,
                    accepted_at=info.accepted_at,
                    present=tag is not None,
                    tag_change_number=tag.change_number if tag else None,
                    prefix_count=len(current),
                    added=() if first else tuple(sort_prefixes(current - base)),
                    removed=() if first else tuple(sort_prefixes(base - current)),
                    first=first,
                )
            )
            previous = current
        cloud = versions[-1].cloud
        return TagHistory(cloud, exact, tuple(reversed(rows)), tuple(problems))

    # --- writing (store lock held) ------------------------------------------------------------
    def record(
        self, service_tags: ServiceTags, *, source: str, accepted_at: str, keep: int
    ) -> list[str]:
        """Add an accepted version, then apply retention; returns problems met on the way."""
        versions, problems = self.versions()
        if keep > 0 and not (versions and versions[-1].sha256 == service_tags.sha256):
            self._write_version(service_tags, source, accepted_at, versions)
        return problems + self.prune(keep)

    def _usable_packs(self, versions: list[VersionInfo]) -> dict[str, PackRef]:
        usable: dict[str, PackRef] = {}
        for info in versions:
            for pack in info.packs:
                if pack.id not in usable and self._pack_intact(pack.id):
                    usable[pack.id] = pack
        return usable

    def _pack_intact(self, pack_id: str) -> bool:
        """Whether the pack file still hashes to its id (cheaper than reading it back)."""
        if pack_id in self._packs:
            return True
        try:
            data = (self.packs_dir / f"{pack_id}.json.gz").read_bytes()
        except OSError:
            return False
        # A damaged pack is not reused: its contents are stored again, so new versions are whole.
        return _digest(data) == pack_id

    def _write_version(
        self, service_tags: ServiceTags, source: str, accepted_at: str, versions: list[VersionInfo]
    ) -> None:
        usable = self._usable_packs(versions)
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
            object_id = _digest(_canonical(content))
            refs[name] = object_id
            if object_id not in known:
                new_objects[object_id] = content
        packs: dict[str, PackRef] = {}
        if new_objects:
            new_pack = self._write_pack(new_objects)
            known.update(dict.fromkeys(new_objects, new_pack.id))
            usable[new_pack.id] = new_pack
        for object_id in refs.values():
            pack_id = known[object_id]
            packs.setdefault(pack_id, usable[pack_id])
        index = {pack_id: position for position, pack_id in enumerate(packs)}
        seq = max((seq for seq, _ in self._manifest_paths()), default=0) + 1
        info = VersionInfo(
            seq=seq,
            cloud=service_tags.cloud,
            change_number=service_tags.change_number,
            sha256=service_tags.sha256,
            accepted_at=accepted_at,
            source=source,
            packs=tuple(packs.values()),
            tags={name: (oid, index[known[oid]]) for name, oid in refs.items()},
            path=self.versions_dir / f"{seq:08d}.json.gz",
        )
        self._write_manifest(info)

    def _write_pack(self, objects: Mapping[str, Any]) -> PackRef:
        data = _gzip(_canonical({"format": FORMAT, "objects": objects}))
        pack = PackRef(_digest(data), len(objects))
        atomic_write_bytes(self.packs_dir / f"{pack.id}.json.gz", data)
        self._packs[pack.id] = dict(objects)
        return pack

    def _write_manifest(self, info: VersionInfo) -> None:
        # Not key-sorted: the tags keep the published file order.
        document = json.dumps(_manifest_document(info), separators=(",", ":"), ensure_ascii=False)
        atomic_write_bytes(info.path, _gzip(document.encode()))

    def prune(self, keep: int) -> list[str]:
        """Keep the newest ``keep`` manifests; drop packs no kept manifest uses; compact."""
        paths = self._manifest_paths()
        for _, path in paths[: max(0, len(paths) - keep)]:
            with suppress(FileNotFoundError):
                path.unlink()
        if len(paths) > keep:
            fsync_directory(self.versions_dir)
        versions, problems = self.versions()
        self._compact(versions)
        self._drop_unused_packs()
        return problems

    def _compact(self, versions: list[VersionInfo]) -> None:
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
            if self._pack_intact(pack_id):
                objects = self._pack(pack_id)
                moved.update({oid: objects[oid] for oid in live[pack_id] if oid in objects})
        if not moved:
            return
        new_pack = self._write_pack(moved)
        for info in versions:
            self._repoint(info, moved, new_pack)
        # The old packs are now unused and go in _drop_unused_packs.

    def _repoint(self, info: VersionInfo, moved: Mapping[str, Any], new_pack: PackRef) -> None:
        if not any(oid in moved for oid, _ in info.tags.values()):
            return
        packs: dict[str, PackRef] = {}
        targets: dict[str, PackRef] = {}
        for name, (object_id, pack_index) in info.tags.items():
            pack = new_pack if object_id in moved else info.packs[pack_index]
            packs.setdefault(pack.id, pack)
            targets[name] = pack
        index = {pack_id: position for position, pack_id in enumerate(packs)}
        tags = {name: (oid, index[targets[name].id]) for name, (oid, _) in info.tags.items()}
        self._write_manifest(replace(info, packs=tuple(packs.values()), tags=tags))

    def _drop_unused_packs(self) -> None:
        # Read again: compaction may just have repointed manifests to a new pack.
        versions, _ = self.versions()
        used = {pack.id for info in versions for pack in info.packs}
        try:
            entries = list(self.packs_dir.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return
        removed = False
        for entry in entries:
            match = _PACK_NAME.fullmatch(entry.name)
            # Temp files of writes a crash interrupted; the store lock is held, so none is live.
            stale_temp = entry.name.startswith(".") and entry.name.endswith(".tmp")
            if (match and match.group(1) not in used) or stale_temp:
                with suppress(FileNotFoundError):
                    entry.unlink()
                if match:
                    self._packs.pop(match.group(1), None)
                removed = True
        if removed:
            fsync_directory(self.packs_dir)


def _resolve_name(versions: list[VersionInfo], name: str, root: Path) -> str:
    """The exact spelling of ``name`` in the kept versions (newest spelling wins)."""
    for info in reversed(versions):
        if name in info.tags:
            return name
    for info in reversed(versions):
        spelling = match_tag_name(info.tags, name)
        if spelling is not None:
            return spelling
    hint = suggestion_hint([n for info in versions for n in info.tags], name)
    raise UnknownTagError(f"{root}: no tag named {name!r:.80} in any kept version{hint}")


def history_of(store: Store) -> History:
    return History(store.root / "history", store.cloud.file_cloud)


def _stderr_warning(message: str) -> None:
    print(f"tagsync: warning: {message}", file=sys.stderr)


def record_accepted(
    store: Store,
    service_tags: ServiceTags,
    meta: SnapshotMeta,
    *,
    keep: int,
    warn: Warn = _stderr_warning,
) -> None:
    """Record a just-accepted version, keeping the newest ``keep``; call after the snapshot's
    commit point, with the store lock held.

    The snapshot is already safe, so no failure here may propagate: it becomes a warning.
    """
    try:
        problems = history_of(store).record(
            service_tags, source=meta.source, accepted_at=meta.accepted_at, keep=keep
        )
    except Exception as exc:  # history is best effort once the snapshot is saved
        reason = " ".join(str(exc).split()) or type(exc).__name__
        warn(f"{store.root / 'history'}: version not recorded in history ({reason})")
        return
    for problem in problems:
        warn(problem)


def version_back(store: Store, steps: int, warn: Warn = _stderr_warning) -> ServiceTags:
    """The kept version accepted ``steps`` updates before the current snapshot.

    1 is the version accepted just before the snapshot. Counting starts at the snapshot's own
    entry; when the snapshot is not in the history (history enabled later, or not recorded),
    1 is the newest kept version.
    """
    if steps < 1:
        raise ConfigError(f"--from-history must be 1 or more, got {steps}")
    history = history_of(store)
    versions, problems = history.versions()
    for problem in problems:
        warn(problem)
    meta = store.meta()
    position = len(versions)
    if meta is not None:
        for index in range(len(versions) - 1, -1, -1):
            if versions[index].sha256 == meta.sha256:
                position = index
                break
    wanted = position - steps
    if wanted < 0:
        older = position
        raise DataError(
            f"{history.root}: only {older} kept version(s) older than the snapshot, "
            f"cannot go back {steps}"
        )
    return history.load(versions[wanted])
