"""Whole-list prefix work for the renderer: validate and sort a tag's prefixes in C-level passes.

The largest tag (AzureCloud) has ~13,000 prefixes and every render re-checks and sorts them;
a per-prefix Python key function (``prefix_sort_key``) costs more than all templates together,
so here the addresses are packed with ``inet_pton`` in one ``map`` and sorted by one integer
each. The order is exactly :func:`tagsync.prefixes.sort_prefixes`'s: IPv4 first, then by
address, then by prefix length, duplicates dropped.
"""

from __future__ import annotations

import itertools
import operator
import socket
import struct
from collections.abc import Collection, Iterable
from functools import partial

from tagsync.prefixes import all_canonical

__all__ = ["merge_sorted", "sort_canonical", "split_families", "validated_sorted"]

_pton4 = partial(socket.inet_pton, socket.AF_INET)
_pton6 = partial(socket.inet_pton, socket.AF_INET6)


_HOST_MASKS = {bits: [(1 << (bits - n)) - 1 for n in range(bits + 1)] for bits in (32, 128)}


def _addresses_and_lengths(prefixes: list[str]) -> tuple[list[str], list[int]]:
    # Canonical prefixes hold exactly one "/", so one split of the joined text pairs them up.
    parts = "\n".join(prefixes).replace("/", "\n").split("\n")
    return parts[0::2], list(map(int, parts[1::2]))


def _numbers(addresses: list[str], v6: bool) -> list[int]:
    """The addresses as integers, packed and unpacked in one pass each."""
    if v6:
        words = struct.unpack(f">{2 * len(addresses)}Q", b"".join(map(_pton6, addresses)))
        return list(
            map(operator.or_, map(operator.lshift, words[0::2], itertools.repeat(64)), words[1::2])
        )
    return list(struct.unpack(f">{len(addresses)}I", b"".join(map(_pton4, addresses))))


def _sorted_family(prefixes: list[str], v6: bool) -> list[str]:
    if len(prefixes) < 2:
        return prefixes
    addresses, lengths = _addresses_and_lengths(prefixes)
    numbers = _numbers(addresses, v6)
    # One integer per prefix: the address, then the length in the low 8 bits.
    keys = list(map(operator.or_, map(operator.lshift, numbers, itertools.repeat(8)), lengths))
    order = sorted(range(len(prefixes)), key=keys.__getitem__)
    return list(map(prefixes.__getitem__, order))


def split_families(prefixes: Iterable[str]) -> tuple[list[str], list[str]]:
    """(IPv4, IPv6) prefixes, each in the given order."""
    items = prefixes if isinstance(prefixes, list) else list(prefixes)
    is_v6 = list(map(str.__contains__, items, itertools.repeat(":")))
    return (
        list(itertools.compress(items, map(operator.not_, is_v6))),
        list(itertools.compress(items, is_v6)),
    )


def sort_canonical(prefixes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Distinct, numerically sorted (IPv4, IPv6) lists of prefixes already known canonical."""
    # dict.fromkeys keeps the file's order, which is nearly sorted: far less work for Timsort.
    v4, v6 = split_families(list(dict.fromkeys(prefixes)))
    return _sorted_family(v4, v6=False), _sorted_family(v6, v6=True)


def validated_sorted(prefixes: Collection[object]) -> tuple[list[str], list[str]] | None:
    """Like :func:`sort_canonical` after checking every item; None if any is not canonical
    (the caller then names the offender through the per-item path)."""
    if not all_canonical(prefixes):
        return None
    return sort_canonical(prefixes)  # type: ignore[arg-type]


def merge_sorted(prefixes: list[str], v6: bool) -> list[str]:
    """The fewest prefixes covering exactly the same addresses, for one family's prefixes as
    :func:`sort_canonical` returns them; the same result as :func:`tagsync.prefixes.aggregate`
    (a network that absorbed only networks inside it keeps its text), from batch-computed
    integers instead of a parse per prefix."""
    if len(prefixes) < 2:
        return list(prefixes)
    addresses, lengths = _addresses_and_lengths(prefixes)
    bits = 128 if v6 else 32
    firsts = _numbers(addresses, v6)
    lasts = list(map(operator.or_, firsts, map(_HOST_MASKS[bits].__getitem__, lengths)))
    result: list[str] = []
    top_first, top_last = firsts[0], lasts[0]
    top_text: str | None = prefixes[0]
    for first, last, text in zip(firsts, lasts, prefixes, strict=True):
        if first <= top_last + 1:  # overlaps or touches the range being built
            if last > top_last:
                top_last, top_text = last, None
            continue
        result.extend([top_text] if top_text else _range_cidrs(top_first, top_last, bits))
        top_first, top_last, top_text = first, last, text
    result.extend([top_text] if top_text else _range_cidrs(top_first, top_last, bits))
    return result


def _range_cidrs(first: int, last: int, bits: int) -> list[str]:
    """The CIDRs exactly covering first..last: each the largest aligned block that fits."""
    family, width = (socket.AF_INET6, 16) if bits == 128 else (socket.AF_INET, 4)
    cidrs = []
    while first <= last:
        alignment = (first & -first).bit_length() - 1 if first else bits
        size = min(alignment, (last - first + 1).bit_length() - 1)
        cidrs.append(f"{socket.inet_ntop(family, first.to_bytes(width, 'big'))}/{bits - size}")
        first += 1 << size
    return cidrs
