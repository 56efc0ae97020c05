"""The watched tags in each kept version, oldest first, and what each step gained and lost.

Removal grace (:mod:`tagsync.grace`) and flap detection (:mod:`tagsync.flaps`) both read the
history the same way: the few watched tags of every kept version (plus the version being
checked or rendered, when it is not kept yet), compared step by step by the addresses they
cover (:mod:`tagsync.coverage`), never by prefix text. This module does that reading and the
small interval arithmetic both need (intersection and difference of CIDR lists).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from tagsync.coverage import diff_coverages
from tagsync.prefixes import key_ranges, merge_ranges, prefix_keys, ranges_to_cidrs, split_families
from tagsync.published import Publication

if TYPE_CHECKING:
    from tagsync.history.manifests import VersionInfo
    from tagsync.history.packs import History
    from tagsync.history.problems import Warn
    from tagsync.model import ServiceTags
    from tagsync.store import Store

__all__ = [
    "KeptVersion",
    "Step",
    "candidate_version",
    "intersect",
    "kept_versions",
    "steps",
    "subtract",
    "version_tags",
    "with_candidate",
]


@dataclass(frozen=True, slots=True)
class KeptVersion:
    """One version as grace and flaps see it: its identity, publication and watched tags."""

    change_number: int
    sha256: str
    published: Publication
    tags: Mapping[str, frozenset[str]]  # watched tag -> prefixes; a tag not in it: absent

    def prefixes(self, name: str) -> frozenset[str]:
        return self.tags.get(name, frozenset())


@dataclass(frozen=True, slots=True)
class Step:
    """The addresses one tag gained and lost in version ``index`` against version ``index-1``."""

    index: int
    gained: tuple[str, ...]
    lost: tuple[str, ...]


def steps(versions: Sequence[KeptVersion], names: Collection[str]) -> dict[str, list[Step]]:
    """Per tag, the steps (oldest first) in which it gained or lost addresses."""
    found: dict[str, list[Step]] = {name: [] for name in names}
    for index in range(1, len(versions)):
        before, after = versions[index - 1], versions[index]
        pairs = {
            name: (before.prefixes(name), after.prefixes(name))
            for name in names
            if before.prefixes(name) != after.prefixes(name)
        }
        for name, coverage in diff_coverages(pairs).items():
            if coverage.changed:
                found[name].append(Step(index, coverage.gained, coverage.lost))
    return found


def with_candidate(kept: Sequence[KeptVersion], candidate: KeptVersion | None) -> list[KeptVersion]:
    """The sequence that ends at ``candidate``: the kept versions up to its own entry when it is
    kept (a re-render of an accepted version), else all of them followed by it."""
    if candidate is None:
        return list(kept)
    for index in range(len(kept) - 1, -1, -1):
        if kept[index].sha256 == candidate.sha256:
            return [*kept[:index], candidate]
    return [*kept, candidate]


def candidate_version(
    service_tags: ServiceTags, names: Sequence[str], published: Publication
) -> KeptVersion:
    """The version being checked or rendered, as one more step after the kept ones."""
    tags = {
        name: frozenset(service_tags.tags[name].prefixes)
        for name in names
        if name in service_tags.tags
    }
    return KeptVersion(service_tags.change_number, service_tags.sha256, published, tags)


def version_tags(
    history: History, info: VersionInfo, names: Sequence[str], *, regions: bool = False
) -> dict[str, frozenset[str]]:
    """The prefixes of the tags ``names`` in one kept version (matched as Azure does,
    case-insensitively, and keyed by the name as given; absent tags left out) and, with
    ``regions``, their regional variants. Raises HistoryDamaged for an unreadable entry."""
    from tagsync.tagnames import match_tag_name

    tags: dict[str, frozenset[str]] = {}
    for name in names:
        spelling = match_tag_name(info.tags, name)
        if spelling is not None:
            tags[name] = frozenset(history.tag(info, spelling).prefixes)
        lead = name.lower() + "."
        for variant in (v for v in info.tags if regions and v.lower().startswith(lead)):
            tags[variant] = frozenset(history.tag(info, variant).prefixes)
    return tags


def kept_versions(
    store: Store, names: Sequence[str], *, regions: bool = False, warn: Warn | None = None
) -> list[KeptVersion]:
    """The kept versions of ``store``'s cloud, oldest first, with the tags ``names`` (matched as
    Azure does, case-insensitively, and keyed by the name as given) and, with ``regions``,
    their regional variants. A damaged entry is skipped with a warning: grace and flaps then
    see one step fewer, never a wrong one."""
    from tagsync.history import HistoryDamaged, history_of
    from tagsync.history.problems import warn_on_stderr

    warn = warn or warn_on_stderr
    history = history_of(store)
    infos, problems = history.versions()
    for problem in problems:
        warn(problem)
    versions: list[KeptVersion] = []
    for info in infos:
        try:
            tags = version_tags(history, info, names, regions=regions)
        except HistoryDamaged as exc:
            warn(f"{exc.message}; skipped")
            continue
        published = Publication(date.fromisoformat(info.published), info.published_basis)
        versions.append(KeptVersion(info.change_number, info.sha256, published, tags))
    return versions


# --- CIDR list arithmetic ---------------------------------------------------------------------
_Ranges = tuple[list[int], list[int]]


def _merged(prefixes: list[str], v6: bool) -> _Ranges:
    return merge_ranges(*key_ranges(sorted(prefix_keys(prefixes, v6)), v6))


def _intersect(a: _Ranges, b: _Ranges) -> _Ranges:
    firsts: list[int] = []
    lasts: list[int] = []
    i = j = 0
    while i < len(a[0]) and j < len(b[0]):
        first, last = max(a[0][i], b[0][j]), min(a[1][i], b[1][j])
        if first <= last:
            firsts.append(first)
            lasts.append(last)
        if a[1][i] < b[1][j]:
            i += 1
        else:
            j += 1
    return firsts, lasts


def _subtract(a: _Ranges, b: _Ranges) -> _Ranges:
    firsts: list[int] = []
    lasts: list[int] = []
    j = 0
    for first, last in zip(*a, strict=True):
        while j < len(b[0]) and b[1][j] < first:
            j += 1
        k = j
        while first <= last:
            if k >= len(b[0]) or b[0][k] > last:
                firsts.append(first)
                lasts.append(last)
                break
            if b[0][k] > first:
                firsts.append(first)
                lasts.append(b[0][k] - 1)
            first = max(first, b[1][k] + 1)
            k += 1
    return firsts, lasts


def _combine(a: Collection[str], b: Collection[str], subtracting: bool) -> list[str]:
    out: list[str] = []
    for v6, left, right in zip((False, True), split_families(a), split_families(b), strict=True):
        if not left:
            continue
        x, y = _merged(left, v6), _merged(right, v6)
        out += ranges_to_cidrs(*(_subtract(x, y) if subtracting else _intersect(x, y)), v6)
    return out


def intersect(a: Collection[str], b: Collection[str]) -> list[str]:
    """The fewest CIDRs covering the addresses both prefix lists cover (IPv4 first)."""
    return _combine(a, b, subtracting=False)


def subtract(a: Collection[str], b: Collection[str]) -> list[str]:
    """The fewest CIDRs covering the addresses of ``a`` that ``b`` does not cover."""
    return _combine(a, b, subtracting=True)
