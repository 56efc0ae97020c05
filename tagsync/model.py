"""Parse and validate Service Tags JSON bytes into an immutable model.

Nothing malformed gets through: HTML or non-JSON bodies, truncated JSON, a wrong shape, the wrong
cloud, missing fields, invalid CIDRs, duplicate names and tag names that could inject into
generated firewall text all raise :class:`DataError` with a one-line message naming the source.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import re
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass, field, replace
from typing import Any

from tagsync.errors import DataError
from tagsync.prefixes import InvalidPrefix, all_canonical, canonical_prefix

__all__ = [
    "TAG_NAME_PATTERN",
    "ServiceTags",
    "Tag",
    "TagTable",
    "parse_service_tags",
]

TAG_NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,200}")
_TAG_NAME_LINES = re.compile(r"[A-Za-z0-9._-]{1,200}(?:\n[A-Za-z0-9._-]{1,200})*")
_MAX_ERRORS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Tag:
    """One service tag: its name, address prefixes (canonical, file order) and other properties."""

    name: str
    prefixes: tuple[str, ...]
    change_number: int
    region: str = ""
    system_service: str = ""
    # The properties object as published (addressPrefixes included, not canonicalised);
    # the diff compares everything but addressPrefixes and changeNumber structurally.
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def base_name(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def ipv4(self) -> list[str]:
        return [p for p in self.prefixes if ":" not in p]

    @property
    def ipv6(self) -> list[str]:
        return [p for p in self.prefixes if ":" in p]


class TagTable(Mapping[str, Tag]):
    """Tags by name, in file order; no tag leaves the table before its prefixes are validated.

    Validation is normally done for the whole file at parse time. A parse for one command that
    reads a few tags (``tagsync prefixes``) may defer it: each tag is then checked when first
    read, and iterating over values or items checks the whole file in one batch.
    """

    __slots__ = ("_distinct", "_source", "_tags", "_trusted", "_unverified")

    def __init__(
        self,
        tags: dict[str, Tag],
        *,
        source: str,
        unverified: bool = False,
        trusted: frozenset[str] = frozenset(),
    ) -> None:
        self._tags = tags
        self._source = source
        self._trusted = trusted
        self._unverified: set[str] = set(tags) if unverified else set()
        self._distinct: frozenset[str] | None = None

    def __getitem__(self, name: str) -> Tag:
        tag = self._tags[name]
        if name in self._unverified:
            if not all_canonical(tag.prefixes):
                tag = self._tags[name] = _canonical_or_error(tag, self._source)
            self._unverified.discard(name)
        return tag

    def __contains__(self, name: object) -> bool:
        return name in self._tags

    def __iter__(self) -> Iterator[str]:
        return iter(self._tags)

    def __len__(self) -> int:
        return len(self._tags)

    def items(self) -> ItemsView[str, Tag]:
        self.validate_all()
        return self._tags.items()

    def values(self) -> ValuesView[Tag]:
        self.validate_all()
        return self._tags.values()

    def validate_all(self) -> None:
        """Check every tag not yet checked: one batch over the distinct prefixes, and the
        per-tag path (which names the offenders) only when the batch finds a problem."""
        if not self._unverified:
            return
        pending = [name for name in self._tags if name in self._unverified]
        distinct = frozenset(
            itertools.chain.from_iterable(self._tags[name].prefixes for name in pending)
        )
        if not all_canonical(distinct - self._trusted if self._trusted else distinct):
            for name in pending:
                self[name]
        elif len(pending) == len(self._tags):
            self._distinct = distinct  # every tag was pending and is unchanged: reuse the set
        self._unverified.clear()

    def distinct_prefixes(self) -> frozenset[str]:
        """Every prefix in the file once, all validated."""
        if self._distinct is None:
            self.validate_all()
            self._distinct = frozenset(
                itertools.chain.from_iterable(tag.prefixes for tag in self._tags.values())
            )
        return self._distinct


@dataclass(frozen=True, slots=True)
class ServiceTags:
    """One published version of the service tags file for one cloud."""

    cloud: str
    change_number: int
    tags: TagTable
    sha256: str
    source: str = ""

    def get(self, name: str) -> Tag | None:
        return self.tags.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.tags

    @property
    def distinct_prefixes(self) -> frozenset[str]:
        """Every prefix once (all validated): lets a second parse skip re-checking them."""
        return self.tags.distinct_prefixes()

    def validate(self) -> None:
        """Make sure every tag's prefixes are validated (a no-op after a full parse)."""
        self.tags.validate_all()


def _as_change_number(value: object, where: str, source: str) -> int:
    """Accept an integer or a string of digits (both occur in the wild)."""
    if isinstance(value, bool):
        raise DataError(f"{source}: {where} changeNumber must be a number, got {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise DataError(f"{source}: {where} changeNumber must be a number, got {value!r:.40}")


def _looks_truncated(exc: json.JSONDecodeError) -> bool:
    """True when the parser ran out of input: the document stopped, as a cut-off download does."""
    text = exc.doc
    if exc.pos >= len(text.rstrip()) - 1:
        return True
    # Cut inside a string: the parser reports where the string started, and no quote follows.
    return exc.msg.startswith("Unterminated string") and '"' not in text[exc.pos + 1 :]


def _decode_json(data: bytes, source: str) -> Any:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise DataError(f"{source}: empty body, expected the service tags JSON")
    if head.startswith(b"<"):
        raise DataError(
            f"{source}: got an HTML page, not the service tags JSON "
            "(a download page, sign-in or captive portal?)"
        )
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        if _looks_truncated(exc):
            raise DataError(f"{source}: truncated JSON (ends after {len(data)} bytes)") from None
        raise DataError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def _right_cloud_hint(file_cloud: str) -> str:
    """``; for this file use --cloud usgov`` when tagsync knows the file's cloud."""
    from tagsync.clouds import cloud_for_file

    right = cloud_for_file(file_cloud)
    if right is None:
        return ""
    return f"; for this file use --cloud {right.name} (or cloud: {right.name} in the config)"


def _parse_tag(entry: object, index: int, source: str) -> Tag:
    if not isinstance(entry, dict):
        raise DataError(f"{source}: values[{index}] is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise DataError(f"{source}: values[{index}] has no name")
    if not TAG_NAME_PATTERN.fullmatch(name):
        raise DataError(
            f"{source}: values[{index}] has tag name {name!r:.80} with characters "
            "outside [A-Za-z0-9._-]"
        )
    properties = entry.get("properties")
    if not isinstance(properties, dict):
        raise DataError(f"{source}: tag {name} has no properties object")
    raw_prefixes = properties.get("addressPrefixes")
    if not isinstance(raw_prefixes, list):
        raise DataError(f"{source}: tag {name} has no properties.addressPrefixes list")
    change_number = _as_change_number(properties.get("changeNumber", 0), f"tag {name}", source)
    region = properties.get("region", "")
    system_service = properties.get("systemService", "")
    return _canonical_or_error(
        Tag(
            name=name,
            prefixes=tuple(raw_prefixes),
            change_number=change_number,
            region=region if isinstance(region, str) else "",
            system_service=system_service if isinstance(system_service, str) else "",
            properties=properties,
        ),
        source,
    )


def _canonical_or_error(tag: Tag, source: str) -> Tag:
    """The per-prefix path: canonicalise every prefix of ``tag`` or name the invalid ones."""
    prefixes: list[str] = []
    bad: list[str] = []
    for raw in tag.prefixes:
        try:
            if not isinstance(raw, str):
                raise InvalidPrefix(f"{raw!r:.60} is not a string")
            prefixes.append(canonical_prefix(raw))
        except InvalidPrefix as exc:
            bad.append(str(exc))
    if bad:
        shown = "; ".join(bad[:_MAX_ERRORS_SHOWN])
        more = f" (and {len(bad) - _MAX_ERRORS_SHOWN} more)" if len(bad) > _MAX_ERRORS_SHOWN else ""
        raise DataError(f"{source}: tag {tag.name} has invalid CIDR prefixes: {shown}{more}")
    return replace(tag, prefixes=tuple(prefixes))


def _tags_checked_in_bulk(values: list[Any]) -> dict[str, Tag] | None:
    """Every tag when the structure of the whole list is valid, checked in C-level batches;
    None as soon as anything is off, and then :func:`_tags_checked_one_by_one` says what.
    The prefixes are left to :class:`TagTable` (in bulk as well).

    A full file has ~3,000 tags and ~90,000 prefixes and is loaded on every run, so the common
    case (valid data) must cost little more than ``json.loads`` itself.
    """
    try:
        names = [entry["name"] for entry in values]
        properties = [entry["properties"] for entry in values]
        prefix_lists = [props["addressPrefixes"] for props in properties]
        change_numbers = [props.get("changeNumber", 0) for props in properties]
        regions = [props.get("region", "") for props in properties]
        services = [props.get("systemService", "") for props in properties]
    except (KeyError, TypeError, AttributeError):
        return None
    joined_names = "\n".join(names) if set(map(type, names)) == {str} else ""
    if (
        set(map(type, properties)) != {dict}
        or set(map(type, prefix_lists)) != {list}
        or set(map(type, change_numbers)) != {int}
        or min(change_numbers) < 0
        or not set(map(type, regions)) | set(map(type, services)) <= {str}
        or joined_names.count("\n") != len(names) - 1
        or not _TAG_NAME_LINES.fullmatch(joined_names)
        or len(set(names)) != len(names)
    ):
        return None
    return {
        name: Tag(name, tuple(prefixes), number, region, service, props)
        for name, prefixes, number, region, service, props in zip(
            names, prefix_lists, change_numbers, regions, services, properties, strict=True
        )
    }


def _tags_checked_one_by_one(values: list[Any], source: str) -> dict[str, Tag]:
    """Check each tag in turn: raises DataError naming the first problem."""
    tags: dict[str, Tag] = {}
    for index, entry in enumerate(values):
        tag = _parse_tag(entry, index, source)
        if tag.name in tags:
            raise DataError(f"{source}: duplicate tag name {tag.name}")
        tags[tag.name] = tag
    return tags


def parse_service_tags(
    data: bytes,
    *,
    source: str = "<data>",
    expected_cloud: str | None = None,
    trusted_prefixes: frozenset[str] = frozenset(),
    check_all_prefixes: bool = True,
    prefixes_trusted: bool = False,
) -> ServiceTags:
    """Parse and validate one Service Tags JSON document.

    ``expected_cloud`` is the top-level ``cloud`` value the caller asked for (e.g. "Public");
    a file of another cloud is refused so a US Gov file never overwrites a Public snapshot.
    ``trusted_prefixes`` are strings already validated as canonical prefixes (typically the
    other version's ``distinct_prefixes`` in a diff): week to week nearly all prefixes repeat,
    so only the new ones need checking. ``check_all_prefixes=False`` defers prefix checks to
    the first read of each tag (see :class:`TagTable`), for commands that read a few tags.
    ``prefixes_trusted``: every prefix was validated when these exact bytes were accepted
    (the store checks their sha256 first), so only the structure is checked again.
    """
    # The document is a tree (no reference cycles), so the cyclic GC has nothing to find while
    # ~100,000 objects are created; pausing it keeps it from rescanning them over and over.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        service_tags = _parse(data, source, expected_cloud, trusted_prefixes, prefixes_trusted)
        if check_all_prefixes:
            service_tags.validate()
        return service_tags
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse(
    data: bytes,
    source: str,
    expected_cloud: str | None,
    trusted: frozenset[str],
    all_trusted: bool = False,
) -> ServiceTags:
    document = _decode_json(data, source)
    if not isinstance(document, dict) or not isinstance(document.get("values"), list):
        raise DataError(
            f"{source}: not a service tags file (expected an object with changeNumber, "
            "cloud and a values list)"
        )
    if "changeNumber" not in document:
        raise DataError(f"{source}: no top-level changeNumber")
    change_number = _as_change_number(document["changeNumber"], "top-level", source)
    cloud = document.get("cloud")
    if not isinstance(cloud, str) or not cloud:
        raise DataError(f"{source}: no top-level cloud name")
    if expected_cloud is not None and cloud != expected_cloud:
        raise DataError(
            f"{source}: file is for cloud {cloud!r:.40}, expected {expected_cloud!r}"
            f"{_right_cloud_hint(cloud)}"
        )
    values = document["values"]
    if not values:
        raise DataError(f"{source}: the file lists no tags")
    bulk = _tags_checked_in_bulk(values)
    if bulk is None:
        table = TagTable(_tags_checked_one_by_one(values, source), source=source)
    else:
        table = TagTable(bulk, source=source, unverified=not all_trusted, trusted=trusted)
    return ServiceTags(
        cloud=cloud,
        change_number=change_number,
        tags=table,
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
    )
