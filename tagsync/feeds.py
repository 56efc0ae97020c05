"""The feed tree's content: per tag, plain CIDR lists, their checksums, a Check Point JSON, and
the index that describes them. Writing the tree is :mod:`tagsync.feeds_tree`'s job; the page is
:mod:`tagsync.feeds_html`'s.

Per tag, inside ``<cloud>/<tag>/``:

- ``ipv4.txt``, ``ipv6.txt``: one CIDR per line, LF, numeric order;
- ``all.txt``: both families in one list (IPv4 first, then IPv6), for firewalls that take one
  mixed feed;
- ``<list>.sha256``: ``sha256sum`` format (``HEX  NAME``), for firewalls that poll a checksum URL
  before the list (Cisco FDM's 5-minute polling needs one);
- ``checkpoint.json``: a Check Point Generic Data Center file (sk167210: ``version`` "1.0",
  ``description`` and ``objects``, each object with ``name``, ``id`` (a UUID), ``description``
  and ``ranges``, where a range is an address, a CIDR or a FROM-TO range, IPv4 or IPv6).
  https://support.checkpoint.com/results/sk/sk167210 . The id is a UUID derived from cloud and
  tag name, so it stays the same from run to run and the gateway keeps the object.

Every list is **aggregated**: the fewest CIDRs covering exactly the tag's addresses (duplicates
dropped, nested and adjacent networks merged). The addresses allowed are exactly the tag's; only
the number of entries drops, and entries are what feed limits count (FortiGate, PAN-OS EDLs).
A published prefix may therefore appear inside a larger entry: ``tagsync prefixes TAG`` shows
the list as published.

Tag names come from the downloaded file: each is checked again here before it becomes a path
component (the file's name pattern allows ``.`` and ``..``), and names equal but for case are
refused, since a case-insensitive store (an object store mirror, a Windows share) would mix them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import socket
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.errors import DataError
from tagsync.feeds_key import FEED_FORMAT
from tagsync.model import TAG_NAME_PATTERN, ServiceTags, Tag
from tagsync.prefixes import merge_family, split_families
from tagsync.published import Publication

__all__ = [
    "LIST_NAMES",
    "LastChange",
    "TagFeed",
    "Tree",
    "build_files",
    "check_tag_names",
    "feed_lists",
]

LIST_NAMES = ("ipv4.txt", "ipv6.txt", "all.txt")
CHECKPOINT_NAME = "checkpoint.json"
# Fixed namespace for the Check Point object ids (uuid5 of cloud/tag): stable across runs.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "tagsync:feeds:checkpoint-generic-data-center")


@dataclass(frozen=True, slots=True)
class TagFeed:
    """One tag's lists, aggregated, in numeric order."""

    name: str
    change_number: int
    prefixes: int  # prefixes as published
    ipv4: list[str]
    ipv6: list[str]


@dataclass(frozen=True, slots=True)
class LastChange:
    """The kept version in which a tag got its current content (see tagsync.feeds_history)."""

    change_number: int  # the file's changeNumber of that version
    published: Publication | None  # None: an unaccepted file whose name carries no date
    gained: bool  # the change gained addresses (so firewalls must allow them by deploy-by)

    @property
    def deploy_by(self) -> str | None:
        """Publication + 7 days when the change gained addresses and the publication is known."""
        if self.published is None or not self.gained:
            return None
        return self.published.deploy_by.isoformat()

    def to_dict(self) -> dict[str, Any]:
        published = self.published
        return {
            "change_number": self.change_number,
            "published": published.date.isoformat() if published else None,
            "published_basis": published.basis if published else None,
            "gained": self.gained,
        }


# --- names --------------------------------------------------------------------------------
def check_tag_names(names: Iterable[str], source: str) -> None:
    """Refuse names unfit to be a path component: DataError naming the first one."""
    seen: dict[str, str] = {}
    for name in names:
        if not TAG_NAME_PATTERN.fullmatch(name) or name.startswith("."):
            raise DataError(f"{source}: tag name {name!r:.80} cannot be a feed directory name")
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise DataError(
                f"{source}: tags {other!r} and {name!r} differ only in case; their feed "
                "directories would collide on a case-insensitive store"
            )


# --- aggregation ----------------------------------------------------------------------------
_V4_MASKS = [(1 << (32 - n)) - 1 for n in range(33)]
_V6_MASKS = [(1 << (128 - n)) - 1 for n in range(129)]


def _bounds(
    prefixes: list[str], v6: bool
) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
    """Per prefix (valid and canonical): its sort key, first address, last address, and the
    sort key of its buddy (the other half of the next larger network) for each lower half.

    Computed once for every prefix of the selected tags, in whole-list C-level passes, so that
    sorting a tag and deciding whether it needs merging are dictionary look-ups.
    """
    if not prefixes:
        return {}, {}, {}, {}
    parts = "\n".join(prefixes).replace("/", "\n").split("\n")
    lengths = list(map(int, parts[1::2]))
    if v6:
        packed = b"".join(map(socket.inet_pton, itertools.repeat(socket.AF_INET6), parts[0::2]))
        words = struct.unpack(f">{2 * len(prefixes)}Q", packed)
        high = map(operator.lshift, words[0::2], itertools.repeat(64))
        firsts = list(map(operator.or_, high, words[1::2]))
        masks = _V6_MASKS
    else:
        packed = b"".join(map(socket.inet_aton, parts[0::2]))
        firsts = list(struct.unpack(f">{len(prefixes)}I", packed))
        masks = _V4_MASKS
    host = list(map(masks.__getitem__, lengths))
    lasts = list(map(operator.or_, firsts, host))
    keys = list(map(operator.or_, map(operator.lshift, firsts, itertools.repeat(8)), lengths))
    # The lower half of a network is aligned to twice its size (its size bit is clear); its
    # buddy starts right after it, with the same length. (For /0 the "buddy" would start past
    # the last address: a key no prefix has, so it never matches.)
    sizes = map(operator.add, host, itertools.repeat(1))
    lower = list(map(operator.not_, map(operator.and_, firsts, sizes)))
    after = map(operator.lshift, map(operator.add, lasts, itertools.repeat(1)), itertools.repeat(8))
    buddy_keys = map(operator.or_, after, lengths)
    return (
        dict(zip(prefixes, keys, strict=True)),
        dict(zip(prefixes, firsts, strict=True)),
        dict(zip(prefixes, lasts, strict=True)),
        dict(
            zip(
                itertools.compress(prefixes, lower),
                itertools.compress(buddy_keys, lower),
                strict=True,
            )
        ),
    )


class _Aggregator:
    """Sorts and merges the tags' lists with the bounds of every prefix computed up front."""

    def __init__(self, tags: Sequence[Tag], distinct: Iterable[str] | None = None) -> None:
        if distinct is None:
            distinct = dict.fromkeys(itertools.chain.from_iterable(t.prefixes for t in tags))
        v4, v6 = split_families(list(distinct))
        self._v4 = _bounds(v4, v6=False)
        self._v6 = _bounds(v6, v6=True)

    def family(self, prefixes: list[str], v6: bool) -> list[str]:
        """The fewest CIDRs for one family's prefixes of a tag, sorted (a duplicate overlaps
        its twin, so duplicates go through the merge and are dropped).

        A sorted list of aligned blocks is already the fewest iff no block overlaps the one
        before it and no block sits right after its buddy (a tiling that is not the fewest
        always holds two buddies side by side); most published lists pass, and only the others
        go through the merging sweep.
        """
        key, first, last, buddy = self._v6 if v6 else self._v4
        ordered = sorted(prefixes, key=key.__getitem__)
        if len(ordered) < 2:
            return ordered
        starts = map(first.__getitem__, itertools.islice(ordered, 1, None))
        overlaps = any(map(operator.le, starts, map(last.__getitem__, ordered)))
        keys = set(map(key.__getitem__, ordered))
        if overlaps or not keys.isdisjoint(map(buddy.get, ordered)):
            return merge_family(ordered, v6)
        return ordered

    def feed(self, tag: Tag) -> TagFeed:
        v4, v6 = split_families(tag.prefixes)
        return TagFeed(
            tag.name,
            tag.change_number,
            len(tag.prefixes),
            self.family(v4, False),
            self.family(v6, True),
        )


def feed_lists(tags: Sequence[Tag], distinct: Iterable[str] | None = None) -> list[TagFeed]:
    """The aggregated lists of ``tags`` (validated prefixes), in the given order; ``distinct``
    may give every prefix of the tags once (the file's validated set, already at hand)."""
    aggregator = _Aggregator(tags, distinct)
    return [aggregator.feed(tag) for tag in tags]


# --- files --------------------------------------------------------------------------------
_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def _object_id(cloud: str, name: str) -> str:
    """``uuid.uuid5(_ID_NAMESPACE, "cloud/name")``, spelled out: the same digest and bits
    without building two UUID objects per tag."""
    digest = bytearray(
        hashlib.sha1(
            _ID_NAMESPACE_BYTES + f"{cloud}/{name}".encode(), usedforsecurity=False
        ).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest[:16].hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _checkpoint_bytes(cloud: str, name: str, entries: list[str]) -> bytes:
    # Assembled as text, not json.dumps'd: ~3,000 files per tree. Every piece is JSON-safe as
    # it stands: the tag name matched [A-Za-z0-9._-], the cloud is ours, and the entries are
    # canonical CIDRs ([0-9a-f.:/] only).
    described = f"Azure service tag {name} ({cloud} cloud)"
    ranges = '"' + '", "'.join(entries) + '"' if entries else ""
    return (
        f'{{"version": "1.0", "description": "{described}, written by tagsync", "objects": '
        f'[{{"name": "{name}", "id": "{_object_id(cloud, name)}", "description": "{described}", '
        f'"ranges": [{ranges}]}}]}}\n'
    ).encode("ascii")


@dataclass(frozen=True, slots=True)
class Tree:
    """One cloud's tree but the page: its files (path relative to ``<cloud>/``), their
    sha256, ``index.json`` and the index as a dict for the page (tags without their files)."""

    files: dict[str, bytes]
    digests: dict[str, str]
    index_json: bytes
    index: dict[str, Any]


def build_files(
    service_tags: ServiceTags,
    cloud: str,
    feeds: Sequence[TagFeed],
    *,
    published: Publication | None,
    last_changes: Mapping[str, LastChange],
    key: str,
) -> Tree:
    """Every file of one cloud's tree but the page, and the index. ``last_changes`` has the
    tags whose last change the kept history shows; the others get nulls.

    ``index.json`` has one line per tag, so a diff of two versions reads tag by tag. Its tag
    lines are assembled as text (~21,000 file entries; the JSON encoder would take several
    times as long): every piece is JSON-safe as it stands (checked names, digits, hex), and
    the few free-form values (last_change) go through json.dumps.
    """
    sha256 = hashlib.sha256
    files: dict[str, bytes] = {}
    digests: dict[str, str] = {}
    lines: list[str] = []
    tags_index: dict[str, Any] = {}
    for feed in feeds:
        name = feed.name
        every = feed.ipv4 + feed.ipv6
        described = []
        for list_name, entries in (
            ("ipv4.txt", feed.ipv4),
            ("ipv6.txt", feed.ipv6),
            ("all.txt", every),
        ):
            data = ("\n".join(entries) + "\n").encode("ascii") if entries else b""
            digest = sha256(data).hexdigest()
            checksum = f"{digest}  {list_name}\n".encode("ascii")
            checksum_digest = sha256(checksum).hexdigest()
            path = f"{name}/{list_name}"
            files[path], files[f"{path}.sha256"] = data, checksum
            digests[path], digests[f"{path}.sha256"] = digest, checksum_digest
            described.append(
                f'"{list_name}":{{"path":"{path}","bytes":{len(data)},"sha256":"{digest}",'
                f'"entries":{len(entries)}}},"{list_name}.sha256":{{"path":"{path}.sha256",'
                f'"bytes":{len(checksum)},"sha256":"{checksum_digest}"}}'
            )
        data = _checkpoint_bytes(cloud, name, every)
        path = f"{name}/{CHECKPOINT_NAME}"
        files[path] = data
        digests[path] = digest = sha256(data).hexdigest()
        described.append(
            f'"{CHECKPOINT_NAME}":{{"path":"{path}","bytes":{len(data)},"sha256":"{digest}",'
            f'"entries":{len(every)}}}'
        )
        change = last_changes.get(name)
        entry = tags_index[name] = {
            "change_number": feed.change_number,
            "published_prefixes": feed.prefixes,
            "ipv4": len(feed.ipv4),
            "ipv6": len(feed.ipv6),
            "all": len(every),
            "last_change": change.to_dict() if change else None,
            "deploy_by": change.deploy_by if change else None,
        }
        head = (
            json.dumps(entry, separators=(",", ":"))
            if change
            else (
                f'{{"change_number":{feed.change_number},"published_prefixes":{feed.prefixes},'
                f'"ipv4":{len(feed.ipv4)},"ipv6":{len(feed.ipv6)},"all":{len(every)},'
                '"last_change":null,"deploy_by":null}'
            )
        )
        lines.append(f'"{name}": {head[:-1]},"files":{{{",".join(described)}}}}}')
    index = {
        "format": FEED_FORMAT,
        "cloud": cloud,
        "file_cloud": service_tags.cloud,
        "change_number": service_tags.change_number,
        "publication_date": published.date.isoformat() if published else None,
        "publication_basis": published.basis if published else None,
        "source_sha256": service_tags.sha256,
        "input_key": key,
        "tag_count": len(tags_index),
    }
    # The first line holds everything but the tags (FeedTree.previous_key reads only it).
    text = f'{json.dumps(index)[:-1]},\n"tags": {{\n' + ",\n".join(lines) + "\n}}\n"
    return Tree(files, digests, text.encode("ascii"), {**index, "tags": tags_index})
