"""Coverage of a tag: which addresses it gained and lost between two versions, not which texts.

Microsoft re-aggregates prefixes all the time: a week may replace two /25s with their /24, or
drop a dozen small prefixes that a larger new one already covers. Compared as text, every one of
those is "removed", yet no address left the tag. Here each version's prefixes become sorted,
merged integer ranges per family (the sweep in :mod:`tagsync.prefixes`), and the differences
of those ranges are the addresses really gained and lost, given back as the fewest CIDRs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tagsync.prefixes import merged_ranges, ranges_to_cidrs, sorted_families

__all__ = [
    "NO_CHANGE",
    "AddressCounts",
    "Coverage",
    "address_counts",
    "count_text",
    "diff_coverage",
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
        return f"{' + '.join(parts)} addresses" if parts else "no addresses"


@dataclass(frozen=True, slots=True)
class Coverage:
    """The addresses a tag gained and lost, as the fewest CIDRs (IPv4 first, numeric order)
    and as counts, with the tag's address totals before and after."""

    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    gained_addresses: AddressCounts = AddressCounts()
    lost_addresses: AddressCounts = AddressCounts()
    old_addresses: AddressCounts = AddressCounts()
    new_addresses: AddressCounts = AddressCounts()

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


# The coverage of a tag whose prefix texts did not change (equal texts cover equal addresses):
# nothing gained or lost. Its address totals are not computed and read 0.
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
    firsts, lasts = ranges
    return sum(lasts) - sum(firsts) + len(firsts)


def _subtract(minuend: _Ranges, subtrahend: _Ranges) -> _Ranges:
    """The addresses of ``minuend`` outside ``subtrahend``; both sorted, disjoint, non-touching.

    Each minuend range looks up the first subtrahend range that could overlap it by bisection,
    so a small change against a large tag does not walk the whole tag.
    """
    cut_firsts, cut_lasts = subtrahend
    firsts: list[int] = []
    lasts: list[int] = []
    for first, last in zip(*minuend, strict=True):
        index = bisect_left(cut_lasts, first)  # the first cut ending at or after ``first``
        while index < len(cut_firsts) and cut_firsts[index] <= last:
            if cut_firsts[index] > first:
                firsts.append(first)
                lasts.append(cut_firsts[index] - 1)
            first = cut_lasts[index] + 1
            if first > last:
                break
            index += 1
        if first <= last:
            firsts.append(first)
            lasts.append(last)
    return firsts, lasts


def address_counts(prefixes: Iterable[str]) -> AddressCounts:
    """How many distinct addresses valid prefixes cover, per family (overlaps counted once)."""
    v4, v6 = sorted_families(prefixes)
    return AddressCounts(_size(merged_ranges(v4, False)), _size(merged_ranges(v6, True)))


def diff_coverage(old: Iterable[str], new: Iterable[str]) -> Coverage:
    """Compare two versions of one tag's valid prefixes by the addresses they cover."""
    old_families, new_families = sorted_families(old), sorted_families(new)
    gained: list[str] = []
    lost: list[str] = []
    counts: dict[str, list[int]] = {"gained": [], "lost": [], "old": [], "new": []}
    for v6, old_prefixes, new_prefixes in zip(
        (False, True), old_families, new_families, strict=True
    ):
        before, after = merged_ranges(old_prefixes, v6), merged_ranges(new_prefixes, v6)
        came, went = _subtract(after, before), _subtract(before, after)
        gained += ranges_to_cidrs(*came, v6)
        lost += ranges_to_cidrs(*went, v6)
        for key, ranges in (("gained", came), ("lost", went), ("old", before), ("new", after)):
            counts[key].append(_size(ranges))
    return Coverage(
        gained=tuple(gained),
        lost=tuple(lost),
        gained_addresses=AddressCounts(*counts["gained"]),
        lost_addresses=AddressCounts(*counts["lost"]),
        old_addresses=AddressCounts(*counts["old"]),
        new_addresses=AddressCounts(*counts["new"]),
    )
