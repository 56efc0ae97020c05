"""Where a cloud's kept versions live on disk: manifests and content-addressed packs.

Layout, beside the snapshot (``STATE_DIR/<cloud>/history/``)::

    versions/<seq>.json.gz  one manifest per accepted version (see tagsync.history.manifests),
                            most of them deltas on an older one (tagsync.history.deltas)
    packs/<id>.json.gz      the tag contents new in one accepted version, keyed by content id

A tag's content id is the sha256 of its canonical JSON, so a tag unchanged across weeks is stored
once; a pack's id is the sha256 of its file, so damage is detected. Packs instead of one file per
tag: ~3,000 tags of a few hundred bytes would each take a 4 KiB disk block.

Writes happen with the store lock held (see tagsync.history.recording and .retention).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.atomic import atomic_write_bytes, fsync_directory
from tagsync.errors import DataError
from tagsync.history.manifests import (
    MANIFEST_NAME,
    PACK_NAME,
    PackRef,
    VersionInfo,
    canonical_json,
    content_id,
    gzip_bytes,
    manifest_bytes,
    parse_manifest,
    read_gzip_json,
)
from tagsync.history.problems import HistoryDamaged
from tagsync.model import ServiceTags, Tag, parse_service_tags

if TYPE_CHECKING:
    from tagsync.store import Store

__all__ = ["PACK_FORMAT", "History", "history_of"]

PACK_FORMAT = 2  # 1: contents as JSON objects; 2: as their canonical JSON text


class History:
    """The kept versions of one cloud (``STATE_DIR/<cloud>/history``).

    Packs and parsed tags read once are cached for the life of the object (one command run).
    """

    def __init__(self, root: Path, file_cloud: str) -> None:
        self.root = root
        self.file_cloud = file_cloud
        self.versions_dir = root / "versions"
        self.packs_dir = root / "packs"
        self._packs: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, Tag] = {}
        # Versions as last read or written, by seq: what delta manifests are read against.
        self._read: dict[int, VersionInfo] = {}

    # --- manifests ----------------------------------------------------------------------------
    def manifest_paths(self) -> list[tuple[int, Path]]:
        """(seq, path) of every manifest file, oldest first; other files are ignored."""
        try:
            names = [entry.name for entry in self.versions_dir.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for name in names:
            match = MANIFEST_NAME.fullmatch(name)
            if match:
                found.append((int(match.group(1)), self.versions_dir / name))
        return sorted(found)

    def manifest_path(self, seq: int) -> Path:
        return self.versions_dir / f"{seq:08d}.json.gz"

    def versions(self) -> tuple[list[VersionInfo], list[str]]:
        """The readable kept versions, oldest first, and a problem line per damaged one."""
        versions: list[VersionInfo] = []
        problems: list[str] = []
        self._read = {}
        for seq, path in self.manifest_paths():
            try:
                info = parse_manifest(read_gzip_json(path), seq, path, self._read)
            except HistoryDamaged as exc:
                problems.append(f"{exc.message}; skipped")
                continue
            versions.append(info)
            self._read[seq] = info
        return versions, problems

    def read(self, seq: int, path: Path) -> VersionInfo:
        """One kept version (and, for a delta, its base) without reading the others: for
        questions about the newest versions only. Raises HistoryDamaged."""
        cached = self._read.get(seq)
        if cached is not None:
            return cached
        raw = read_gzip_json(path)
        base = raw.get("base") if isinstance(raw, dict) else None
        if type(base) is int and 0 < base < seq and base not in self._read:
            with suppress(HistoryDamaged):  # a missing base is reported by parse_manifest
                self.read(base, self.manifest_path(base))
        info = parse_manifest(raw, seq, path, self._read)
        self._read[seq] = info
        return info

    def write_manifest(self, info: VersionInfo, previous: VersionInfo | None = None) -> VersionInfo:
        """Write ``info``'s manifest, as a delta on ``previous`` (the kept version before it)
        when that is worth it, else full. Returns ``info`` as it reads back."""
        from tagsync.history.deltas import worth_a_delta

        if worth_a_delta(info, previous):
            assert previous is not None
            atomic_write_bytes(info.path, manifest_bytes(info, previous))
            written = replace(info, base=previous.seq, depth=previous.depth + 1)
        else:
            atomic_write_bytes(info.path, manifest_bytes(info))
            written = replace(info, base=None, depth=0)
        self._read[written.seq] = written
        return written

    def delete_manifests(self, paths: Sequence[Path]) -> None:
        for path in paths:
            with suppress(FileNotFoundError):
                path.unlink()
        if paths:
            fsync_directory(self.versions_dir)

    # --- packs --------------------------------------------------------------------------------
    def read_pack(self, pack_id: str) -> dict[str, Any]:
        """The contents of a pack, checked against its id."""
        cached = self._packs.get(pack_id)
        if cached is not None:
            return cached
        path = self.packs_dir / f"{pack_id}.json.gz"
        try:
            data = path.read_bytes()
        except OSError:
            raise HistoryDamaged(f"{path}: pack is missing") from None
        if content_id(data) != pack_id:
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

    def pack_intact(self, pack_id: str) -> bool:
        """Whether the pack file still hashes to its id (cheaper than reading it back)."""
        if pack_id in self._packs:
            return True
        try:
            data = (self.packs_dir / f"{pack_id}.json.gz").read_bytes()
        except OSError:
            return False
        return content_id(data) == pack_id

    def write_pack(self, objects: Mapping[str, Any]) -> PackRef:
        """Store tag contents (dicts, or their canonical JSON text) in one new pack.

        Each content is kept as its canonical JSON *text*: reading a pack then decodes strings
        only, and a tag is parsed when it is asked for (a full pack holds ~3,000 tags).
        """
        texts = {oid: _as_text(content) for oid, content in objects.items()}
        data = gzip_bytes(canonical_json({"format": PACK_FORMAT, "objects": texts}))
        pack = PackRef(content_id(data), len(texts))
        atomic_write_bytes(self.packs_dir / f"{pack.id}.json.gz", data)
        self._packs[pack.id] = texts
        return pack

    def delete_packs_except(self, used: Iterable[str]) -> None:
        """Delete every pack not in ``used``, and temp files that crashed writes left behind."""
        keep = set(used)
        try:
            entries = list(self.packs_dir.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return
        removed = False
        for entry in entries:
            match = PACK_NAME.fullmatch(entry.name)
            # The store lock is held, so no temp file belongs to a live write.
            stale_temp = entry.name.startswith(".") and entry.name.endswith(".tmp")
            if (match and match.group(1) not in keep) or stale_temp:
                with suppress(FileNotFoundError):
                    entry.unlink()
                if match:
                    self._packs.pop(match.group(1), None)
                removed = True
        if removed:
            fsync_directory(self.packs_dir)

    # --- versions as ServiceTags ----------------------------------------------------------------
    def _content(self, info: VersionInfo, name: str) -> str:
        """The canonical JSON text of one tag of a kept version, checked against its id."""
        object_id, pack_index = info.tags[name]
        pack = info.packs[pack_index]
        content = self.read_pack(pack.id).get(object_id)
        text = _as_text(content) if isinstance(content, (str, dict)) else ""
        if content_id(text.encode()) != object_id or not text.startswith(_name_head(name)):
            raise HistoryDamaged(f"{info.path}: tag {name} is missing from pack {pack.id}")
        return text

    def _parsed(self, texts: list[str], info: VersionInfo) -> ServiceTags:
        # Rebuilt through the normal validator: history files are data like any other.
        head = canonical_json({"changeNumber": info.change_number, "cloud": info.cloud})
        document = b"".join((head[:-1], b',"values":[', ",".join(texts).encode(), b"]}"))
        try:
            parsed = parse_service_tags(
                document, source=str(info.path), expected_cloud=self.file_cloud
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

    def tag(self, info: VersionInfo, name: str) -> Tag:
        """One tag of a kept version; a content shared by several versions is parsed once."""
        object_id = info.tags[name][0]
        tag = self._tags.get(object_id)
        if tag is None:
            tag = self._parsed([self._content(info, name)], info).tags[name]
            self._tags[object_id] = tag
        return tag


def _as_text(content: str | dict[str, Any]) -> str:
    # Packs written before PACK_FORMAT 2 hold the contents as JSON objects.
    return content if isinstance(content, str) else canonical_json(content).decode()


def _name_head(name: str) -> str:
    """How a tag content's canonical JSON starts ("name" sorts before "properties")."""
    return canonical_json({"name": name}).decode()[:-1] + ","


def history_of(store: Store) -> History:
    """The history kept beside ``store``'s snapshot."""
    return History(store.root / "history", store.cloud.file_cloud)
