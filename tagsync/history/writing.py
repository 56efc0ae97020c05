"""Writing kept versions: tag contents into packs (each stored once), then manifests.

Shared by recording (one just-accepted version) and importing (many old published files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tagsync.history.manifests import PackRef, VersionInfo, canonical_json, content_id

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


def tag_refs(service_tags: ServiceTags) -> tuple[dict[str, str], dict[str, Any]]:
    """Per tag in file order its content id, and the contents by id."""
    refs: dict[str, str] = {}
    contents: dict[str, Any] = {}
    for name, tag in service_tags.tags.items():
        content = tag_content(tag)
        object_id = content_id(canonical_json(content))
        refs[name] = object_id
        contents[object_id] = content
    return refs, contents


class Contents:
    """Which pack holds each tag content of the kept versions; new contents go to new packs.

    A damaged pack is not reused: its contents are stored again, so new versions are whole.
    """

    def __init__(self, history: History, versions: Iterable[VersionInfo]) -> None:
        self.history = history
        self.usable: dict[str, PackRef] = {}
        self.known: dict[str, str] = {}  # content id -> pack id
        for info in versions:
            for pack in info.packs:
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
