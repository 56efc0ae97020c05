"""Writing kept versions: tag contents into packs (each stored once), then manifests.

Shared by recording (one just-accepted version) and importing (many old published files).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tagsync.history.manifests import (
    PackRef,
    VersionInfo,
    canonical_json,
    content_id,
    used_packs,
)

if TYPE_CHECKING:
    from tagsync.history.packs import History
    from tagsync.model import ServiceTags, Tag
    from tagsync.published import Publication

__all__ = ["Contents", "tag_content", "tag_refs"]


def tag_content(tag: Tag) -> dict[str, Any]:
    """What history keeps of a tag (the id field is always the name, so it is left out)."""
    return {
        "name": tag.name,
        "properties": {**tag.properties, "addressPrefixes": list(tag.prefixes)},
    }


def tag_refs(
    service_tags: ServiceTags, seen: dict[Hashable, str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Per tag in file order its content id, and the contents by id.

    ``seen`` (kept across calls) remembers the id of every content met: a tag identical to one
    already seen is recognised without encoding and hashing it again, the bulk of the work
    when many versions are read at once (history import).
    """
    refs: dict[str, str] = {}
    contents: dict[str, Any] = {}
    for name, tag in service_tags.tags.items():
        content = tag_content(tag)
        key = _exact_key(content) if seen is not None else None
        object_id = seen.get(key) if seen is not None and key is not None else None
        if object_id is None:
            object_id = content_id(canonical_json(content))
            if seen is not None and key is not None:
                seen[key] = object_id
        refs[name] = object_id
        contents[object_id] = content
    return refs, contents


def _exact_key(content: dict[str, Any]) -> Hashable | None:
    """A hashable value equal for two contents exactly when their canonical JSON is equal
    (types included, so 1, 1.0 and true differ), or None for shapes it does not cover."""
    parts: list[Hashable] = [content["name"]]
    for key, value in sorted(content["properties"].items()):
        if isinstance(value, list):
            if not all(type(item) is str for item in value):
                return None
            parts.append((key, "list", tuple(value)))
        elif type(value) in (str, int, bool, float) or value is None:
            parts.append((key, type(value).__name__, value))
        else:
            return None
    return tuple(parts)


class Contents:
    """Which pack holds each tag content of the kept versions; new contents go to new packs.

    A damaged pack is not reused: its contents are stored again, so new versions are whole.
    """

    def __init__(self, history: History, versions: Iterable[VersionInfo]) -> None:
        self.history = history
        self.usable: dict[str, PackRef] = {}
        self.known: dict[str, str] = {}  # content id -> pack id
        for info in versions:
            for pack in used_packs(info):
                if pack.id not in self.usable and history.pack_intact(pack.id):
                    self.usable[pack.id] = pack
            for object_id, pack_index in info.tags.values():
                pack_id = info.packs[pack_index].id
                if pack_id in self.usable:
                    self.known.setdefault(object_id, pack_id)

    def add(self, refs: Mapping[str, str], contents: Mapping[str, Any]) -> None:
        """Store, in one new pack, those of ``refs``' contents no usable pack holds yet."""
        new = {oid: contents[oid] for oid in dict.fromkeys(refs.values()) if oid not in self.known}
        if new:
            pack = self.history.write_pack(new)
            self.known.update(dict.fromkeys(new, pack.id))
            self.usable[pack.id] = pack

    def manifest(
        self,
        seq: int,
        *,
        cloud: str,
        change_number: int,
        sha256: str,
        accepted_at: str,
        source: str,
        publication: Publication,
        refs: Mapping[str, str],
    ) -> VersionInfo:
        """The manifest of a version whose contents were all :meth:`add`-ed (not yet written)."""
        packs: dict[str, PackRef] = {}
        for object_id in refs.values():
            pack_id = self.known[object_id]
            packs.setdefault(pack_id, self.usable[pack_id])
        index = {pack_id: position for position, pack_id in enumerate(packs)}
        return VersionInfo(
            seq=seq,
            cloud=cloud,
            change_number=change_number,
            sha256=sha256,
            accepted_at=accepted_at,
            source=source,
            packs=tuple(packs.values()),
            tags={name: (oid, index[self.known[oid]]) for name, oid in refs.items()},
            path=self.history.manifest_path(seq),
            published=publication.date.isoformat(),
            published_basis=publication.basis,
        )
