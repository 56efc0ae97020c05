"""Answer "which service tags contain this address or network?" from an index built once.

CIDR prefixes never partly overlap: two are either disjoint or one contains the other. So the
distinct prefixes of one address family, sorted by (start, size descending), form a forest in
which every prefix's parent is the smallest prefix containing it. The prefixes containing a
query are the last prefix starting at or before it plus those of its ancestors that reach past
its end: one ``bisect`` and a short walk up (a few levels in practice) per query.

The answer only depends on the innermost containing prefix, so it is computed once per prefix
and memoised: log files repeat addresses, and neighbouring addresses share answers.
Measured in bench/bench_lookup.py against a naive scan and a netaddr IPSet per tag.
"""

from __future__ import annotations

import gc
import socket
from bisect import bisect_right
from collections.abc import Iterable
from typing import NamedTuple

from tagsync.model import Tag

__all__ = ["InvalidQuery", "LookupIndex", "Match", "Query", "parse_query"]

_V4_BITS = 32
_V6_BITS = 128
# ::ffff:a.b.c.d, as dual-stack sockets log IPv4 peers; looked up as the IPv4 address.
_V4_MAPPED = 0xFFFF << 32


class InvalidQuery(ValueError):
    """A line that is not an IPv4/IPv6 address or network in canonical network form."""


class Query(NamedTuple):
    """A parsed address or network: the inclusive integer range it covers in its family."""

    # NamedTuples, not frozen dataclasses: created per query and per answer, and ~4x cheaper.

    text: str
    version: int  # 4 or 6
    first: int
    last: int


class Match(NamedTuple):
    """One tag containing a query, with the tag's most specific prefix that contains it."""

    tag: str
    region: str
    prefix: str
    system_service: str

    def to_dict(self) -> dict[str, str]:
        return {
            "tag": self.tag,
            "region": self.region,
            "prefix": self.prefix,
            "system_service": self.system_service,
        }


def _address(text: str) -> tuple[int, int, int]:
    """(version, integer, bit width) of an address, or raise InvalidQuery."""
    family, version, bits = (
        (socket.AF_INET6, 6, _V6_BITS) if ":" in text else (socket.AF_INET, 4, _V4_BITS)
    )
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        raise InvalidQuery(f"{text!r:.80} is not an IPv4 or IPv6 address") from None
    return version, int.from_bytes(packed, "big"), bits


def parse_query(text: str) -> Query:
    """Parse ``ADDRESS`` or ``ADDRESS/LENGTH`` (host bits must be zero, as in the tag data)."""
    text = text.strip()
    address, slash, length_text = text.partition("/")
    version, value, bits = _address(address)
    if not slash:
        if version == 6 and value >> _V4_BITS == 0xFFFF:
            return Query(text, 4, value - _V4_MAPPED, value - _V4_MAPPED)
        return Query(text, version, value, value)
    if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > 3:
        raise InvalidQuery(f"{text!r:.80} has a malformed prefix length")
    length = int(length_text)
    if length > bits:
        raise InvalidQuery(f"{text!r:.80} has a prefix length over {bits}")
    host_mask = (1 << (bits - length)) - 1
    if value & host_mask:
        raise InvalidQuery(f"{text!r:.80} has host bits set (did you mean an address?)")
    return Query(text, version, value, value | host_mask)


class _FamilyIndex:
    """The prefix forest of one address family, as parallel lists sorted by (start, -size)."""

    def __init__(
        self, prefixes: dict[tuple[int, int], tuple[str, list[int]]], tags: list[Tag], bits: int
    ) -> None:
        self.tags = tags
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.parents: list[int] = []
        self.own: list[tuple[str, list[int]]] = []
        starts, ends, parents, own = self.starts, self.ends, self.parents, self.own
        stack: list[int] = []
        for (start, length), entry in sorted(prefixes.items()):
            end = start | ((1 << (bits - length)) - 1)
            # Laminar family: a stacked prefix that ends before this one starts is no ancestor.
            while stack and ends[stack[-1]] < start:
                stack.pop()
            parents.append(stack[-1] if stack else -1)
            stack.append(len(starts))
            starts.append(start)
            ends.append(end)
            own.append(entry)
        self.answers: list[tuple[Match, ...] | None] = [None] * len(starts)

    def find(self, first: int, last: int) -> tuple[Match, ...]:
        node = bisect_right(self.starts, first) - 1
        ends, parents = self.ends, self.parents
        while node >= 0 and ends[node] < last:
            node = parents[node]
        return self._answer(node) if node >= 0 else ()

    def _own_matches(self, node: int) -> tuple[Match, ...]:
        prefix, tag_ids = self.own[node]
        # Sorted by name for a stable tie order; a tag listing a prefix twice matches once.
        chosen = sorted({self.tags[i].name: self.tags[i] for i in tag_ids}.items())
        return tuple(Match(name, tag.region, prefix, tag.system_service) for name, tag in chosen)

    def _answer(self, node: int) -> tuple[Match, ...]:
        answers = self.answers
        found = answers[node]
        if found is not None:
            return found
        pending: list[int] = []
        while node >= 0 and answers[node] is None:
            pending.append(node)
            node = self.parents[node]
        inherited: tuple[Match, ...] = ()
        if node >= 0:
            inherited = answers[node] or ()
        for current in reversed(pending):
            own = self._own_matches(current)
            # A tag listing nested prefixes of its own appears once, with the innermost one.
            names = {match.tag for match in own}
            inherited = own + tuple(m for m in inherited if m.tag not in names)
            answers[current] = inherited
        return inherited


class LookupIndex:
    """Every tag containing an address or network, most specific prefix first.

    Ties (several tags listing the same prefix) come in tag name order, so output is stable.
    """

    def __init__(self, tags: Iterable[Tag]) -> None:
        # The build allocates ~200,000 small objects and no cycles; the cyclic collector would
        # only rescan them again and again (measured: twice to four times the build time).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._build(list(tags))
        finally:
            if was_enabled:
                gc.enable()

    def _build(self, tag_list: list[Tag]) -> None:
        by_family: dict[int, dict[tuple[int, int], tuple[str, list[int]]]] = {4: {}, 6: {}}
        v4, v6 = by_family[4], by_family[6]
        inet_pton, from_bytes, af4, af6 = (
            socket.inet_pton,
            int.from_bytes,
            socket.AF_INET,
            socket.AF_INET6,
        )
        self.tag_count = len(tag_list)
        self.prefix_count = 0
        # Hot loop over ~90,000 prefixes, already validated by the model: inlined parsing.
        for tag_id, tag in enumerate(tag_list):
            self.prefix_count += len(tag.prefixes)
            for prefix in tag.prefixes:
                address, _, length_text = prefix.partition("/")
                if ":" in address:
                    key, table = (from_bytes(inet_pton(af6, address)), int(length_text)), v6
                else:
                    key, table = (from_bytes(inet_pton(af4, address)), int(length_text)), v4
                entry = table.get(key)
                if entry is None:
                    table[key] = (prefix, [tag_id])
                else:
                    entry[1].append(tag_id)
        self._families = {
            4: _FamilyIndex(v4, tag_list, _V4_BITS),
            6: _FamilyIndex(v6, tag_list, _V6_BITS),
        }

    def find(self, query: Query) -> tuple[Match, ...]:
        """The tags whose prefixes contain ``query`` entirely, most specific first."""
        return self._families[query.version].find(query.first, query.last)

    def lookup(self, text: str) -> tuple[Match, ...]:
        """Parse and answer one address or network; raises InvalidQuery for bad text."""
        return self.find(parse_query(text))
