"""Coverage of a tag: which addresses it gained and lost between two versions, not which texts.

Microsoft re-aggregates prefixes all the time: a week may replace two /25s with their /24, or
drop small prefixes that a larger new one already covers. Compared as text, every one of those
is "removed", yet no address left the tag. Here the addresses really gained are those of the
added texts that the old version does not cover, and the addresses lost those of the removed
texts that the new version does not cover, given back as the fewest CIDRs and counted per
family. Prefixes become integer ranges with the C-level parsing and merge sweep of
:mod:`tagsync.prefixes`; only the changed texts are merged, and the rest of a tag is consulted
only where it overlaps them, so a week touching a few prefixes of AzureCloud stays cheap."""

from __future__ import annotations

import itertools
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from tagsync.prefixes import (
    key_ranges,
    merge_ranges,
    prefix_keys,
    ranges_to_cidrs,
    split_families,
)

__all__ = [
    "NO_CHANGE",
    "AddressCounts",
    "Coverage",
    "address_counts",
    "count_text",
    "diff_coverage",
    "diff_coverages",
]

# Integer ranges of one family, as two parallel lists: first addresses and last addresses.
_Ranges = tuple[list[int], list[int]]


@dataclass(frozen=True, slots=True)
class AddressCounts:
    """A number of addresses per family."""

    ipv4: int = 0
    ipv6: int = 0

    def __add__(self, other: AddressCounts) -> AddressCounts:
        return AddressCounts(self.ipv4 + other.ipv4, self.ipv6 + other.ipv6)

    def to_dict(self) -> dict[str, int]:
        return {"ipv4": self.ipv4, "ipv6": self.ipv6}

    def text(self) -> str:
        """For people: "1,024 IPv4 + 2^80 IPv6 addresses", zero families left out."""
        parts = [
            f"{count_text(count)} {family}"
            for family, count in (("IPv4", self.ipv4), ("IPv6", self.ipv6))
            if count
        ]
        if not parts:
            return "no addresses"
        one = self.ipv4 + self.ipv6 == 1  # "1 IPv4 address", not "1 IPv4 addresses"
        return f"{' + '.join(parts)} {'address' if one else 'addresses'}"


@dataclass(frozen=True, slots=True)
class Coverage:
    """The addresses a tag gained and lost, as the fewest CIDRs (IPv4 first, numeric order)
    and as counts.

    ``old_addresses`` (the tag's addresses before, per family) is what a loss is a share of; it
    is counted only when the tag lost addresses, since counting means a pass over the whole
    tag, and is None otherwise.
    """

    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    gained_addresses: AddressCounts = AddressCounts()
    lost_addresses: AddressCounts = AddressCounts()
    old_addresses: AddressCounts | None = None

    @property
    def changed(self) -> bool:
        """True when some address came into or left the tag."""
        return bool(self.gained or self.lost)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gained": list(self.gained),
            "lost": list(self.lost),
            "gained_addresses": self.gained_addresses.to_dict(),
            "lost_addresses": self.lost_addresses.to_dict(),
        }


# The coverage of a tag whose prefix texts did not change (equal texts cover equal addresses).
NO_CHANGE = Coverage()


def count_text(count: int) -> str:
    """An address count people can read: exact with separators up to a trillion (every IPv4
    count), then a power of two when it is one (IPv6 networks usually are), else 3 digits."""
    if count < 10**12:
        return f"{count:,}"
    if count & (count - 1) == 0:
        return f"2^{count.bit_length() - 1}"
    return f"~{count:.3g}".replace("e+", "e")


def _size(ranges: _Ranges) -> int:
    """Addresses in disjoint ranges."""
    firsts, lasts = ranges
    return sum(lasts) - sum(firsts) + len(firsts)


@dataclass(frozen=True, slots=True)
class _Reach:
    """Ranges indexed for "which addresses here are covered?", without merging them first.

    The ranges are ordered by first address; ``reach[i]`` is the highest address any of the
    first i+1 covers. Both lists come from whole-list passes in C, so a large tag is indexed
    without a Python loop per prefix.
    """

    firsts: list[int]
    reach: list[int]
    size: int  # distinct addresses covered

    @classmethod
    def of_ranges(cls, ranges: _Ranges) -> _Reach:
        firsts, lasts = ranges
        reach = list(itertools.accumulate(lasts, max))
        if not any(map(operator.le, firsts[1:], reach)):  # nothing overlaps: sizes just add up
            return cls(firsts, reach, _size(ranges))
        # Each range adds what lies beyond both its own start and what earlier ones reached.
        already = map(max, map(operator.sub, firsts, itertools.repeat(1)), [-1, *reach[:-1]])
        added = map(operator.sub, lasts, already)
        return cls(firsts, reach, sum(map(max, added, itertools.repeat(0))))

    def uncovered(self, ranges: _Ranges) -> _Ranges:
        """The parts of sorted, disjoint, non-touching ``ranges`` that nothing here covers.

        Each step bisects to the ranges starting at or before the current address: if they
        reach it, skip past their reach; if not, the gap runs to the next range's start.
        """
        firsts: list[int] = []
        lasts: list[int] = []
        for first, last in zip(*ranges, strict=True):
            while first <= last:
                index = bisect_right(self.firsts, first) - 1
                if index >= 0 and self.reach[index] >= first:
                    first = self.reach[index] + 1
                    continue
                following = index + 1
                gap_end = last
                if following < len(self.firsts):
                    gap_end = min(last, self.firsts[following] - 1)
                firsts.append(first)
                lasts.append(gap_end)
                first = gap_end + 1
        return firsts, lasts


def _ranges(prefixes: list[str], v6: bool) -> _Ranges:
    """The ranges of one family's distinct prefixes, in numeric order, not merged."""
    return key_ranges(sorted(prefix_keys(prefixes, v6)), v6)


class _FamilyTable:
    """One family's distinct prefixes, parsed once, in numeric order, to find the ones that
    overlap a range: those that start inside it, and those that contain its first address."""

    def __init__(self, prefixes: list[str], v6: bool) -> None:
        self.v6 = v6
        keys = prefix_keys(prefixes, v6)
        self._prefix = dict(zip(keys, prefixes, strict=True))
        self._key: dict[str, int] | None = None  # the reverse, built when first needed
        self._keys = sorted(keys)
        self._firsts, self._lasts = key_ranges(self._keys, v6)
        # The highest address covered by the prefixes up to each position: where it stays
        # below an address, nothing before that address contains it.
        self._reach = list(itertools.accumulate(self._lasts, max))
        bits = 128 if v6 else 32
        # (length, network mask, host mask) for every length in use, shortest first.
        self._masks = [
            (length, ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1), (1 << (bits - length)) - 1)
            for length in sorted(set(map(operator.and_, keys, itertools.repeat(0xFF))))
        ]

    def _containing(self, address: int) -> Iterator[tuple[str, int, int]]:
        """(prefix, first, last) of the prefixes that contain ``address`` and start before it,
        lowest first address first: each is that address's network at a length in use."""
        before = bisect_left(self._firsts, address) - 1
        if before < 0 or self._reach[before] < address:
            return  # the common case for new addresses: nothing in the table reaches here
        for length, network_mask, host_mask in self._masks:
            network = address & network_mask
            if network == address:
                break  # from here on the networks start at the address itself
            prefix = self._prefix.get((network << 8) | length)
            if prefix is not None:
                yield prefix, network, network | host_mask

    def _overlapping(self, first: int, last: int, members: AbstractSet[str]) -> _Ranges:
        """The ranges of the ``members`` that overlap first..last, ordered by first address.

        Two prefixes overlap only if one contains the other, so a member either contains
        ``first`` or starts inside the range.
        """
        firsts: list[int] = []
        lasts: list[int] = []
        for prefix, start, end in self._containing(first):
            if prefix in members:
                firsts.append(start)
                lasts.append(end)
        for position in range(bisect_left(self._firsts, first), bisect_right(self._firsts, last)):
            if self._prefix[self._keys[position]] in members:
                firsts.append(self._firsts[position])
                lasts.append(self._lasts[position])
        return firsts, lasts

    def size(self, prefixes: list[str]) -> int:
        """Distinct addresses some of the table's prefixes cover (no parsing again)."""
        if self._key is None:
            self._key = dict(zip(self._prefix.values(), self._prefix, strict=True))
        keys = sorted(map(self._key.__getitem__, prefixes))
        return _Reach.of_ranges(key_ranges(keys, self.v6)).size

    def uncovered(self, ranges: _Ranges, members: AbstractSet[str]) -> _Ranges:
        """The parts of sorted, disjoint ``ranges`` that no prefix among ``members`` covers
        (every member that overlaps them must be in the table)."""
        firsts: list[int] = []
        lasts: list[int] = []
        for first, last in zip(*ranges, strict=True):
            nearby = _Reach.of_ranges(self._overlapping(first, last, members))
            gaps = nearby.uncovered(([first], [last]))
            firsts += gaps[0]
            lasts += gaps[1]
        return firsts, lasts


class _Table:
    """Every distinct prefix of the compared tags, parsed once, per family.

    Tags share most prefixes (AzureCloud holds its regional tags and most service tags), so
    each text is parsed once for all of them; a tag's changed texts are then checked against
    the few prefixes of the tag that overlap them.
    """

    def __init__(self, prefixes: Iterable[str]) -> None:
        v4, v6 = split_families(list(set(prefixes)))
        self.families = (_FamilyTable(v4, False), _FamilyTable(v6, True))


def address_counts(prefixes: Iterable[str]) -> AddressCounts:
    """How many distinct addresses valid prefixes cover, per family (overlaps counted once)."""
    v4, v6 = split_families(list(set(prefixes)))
    return AddressCounts(
        _Reach.of_ranges(_ranges(v4, False)).size, _Reach.of_ranges(_ranges(v6, True)).size
    )


def _coverage(table: _Table, old: AbstractSet[str], new: AbstractSet[str]) -> Coverage:
    """Compare two versions of one tag, both drawn from ``table``.

    Gained addresses lie in the added texts, minus what the old version covers; lost ones in
    the removed texts, minus what the new version covers. So only the changed texts are
    merged, and the rest of the tag is consulted only where it overlaps them.
    """
    gained: list[str] = []
    lost: list[str] = []
    counts: dict[str, list[int]] = {"gained": [], "lost": []}
    changed = zip(table.families, split_families(new - old), split_families(old - new), strict=True)
    for family, added, removed in changed:
        v6 = family.v6
        came = family.uncovered(merge_ranges(*_ranges(added, v6)), old)
        went = family.uncovered(merge_ranges(*_ranges(removed, v6)), new)
        gained += ranges_to_cidrs(*came, v6)
        lost += ranges_to_cidrs(*went, v6)
        counts["gained"].append(_size(came))
        counts["lost"].append(_size(went))
    return Coverage(
        gained=tuple(gained),
        lost=tuple(lost),
        gained_addresses=AddressCounts(*counts["gained"]),
        lost_addresses=AddressCounts(*counts["lost"]),
        old_addresses=_counts(table, old) if lost else None,
    )


def _counts(table: _Table, prefixes: AbstractSet[str]) -> AddressCounts:
    """Distinct addresses per family of prefixes that are all in ``table``."""
    families = zip(table.families, split_families(list(prefixes)), strict=True)
    return AddressCounts(*(family.size(part) for family, part in families))


def _as_set(prefixes: Collection[str]) -> AbstractSet[str]:
    return prefixes if isinstance(prefixes, AbstractSet) else set(prefixes)


def diff_coverages(
    pairs: Mapping[str, tuple[Collection[str], Collection[str]]],
) -> dict[str, Coverage]:
    """The coverage of many tags between the same two versions, {name: (old prefixes, new
    prefixes)}, with every distinct prefix parsed once (the prefixes must be valid)."""
    sets = {name: (_as_set(old), _as_set(new)) for name, (old, new) in pairs.items()}
    table = _Table(itertools.chain.from_iterable(itertools.chain(*pair) for pair in sets.values()))
    return {name: _coverage(table, old, new) for name, (old, new) in sets.items()}


def diff_coverage(old: Collection[str], new: Collection[str]) -> Coverage:
    """Compare two versions of one tag's valid prefixes by the addresses they cover."""
    return diff_coverages({"": (old, new)})[""]
