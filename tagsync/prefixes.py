"""IP prefix helpers: strict CIDR parsing, numeric sort order, family filters and aggregation.

Parsing is on the hot path (tens of thousands of prefixes per file), so it uses the C-level
``socket.inet_pton`` instead of building ``ipaddress``/``netaddr`` objects for every prefix.
"""

from __future__ import annotations

import itertools
import operator
import re
import socket
import struct
from collections.abc import Collection, Iterable, Sequence
from functools import partial

__all__ = [
    "InvalidPrefix",
    "aggregate",
    "all_canonical",
    "canonical_prefix",
    "is_ipv6",
    "key_ranges",
    "merge_family",
    "merge_ranges",
    "prefix_keys",
    "ranges_to_cidrs",
    "select_family",
    "sort_prefixes",
    "sorted_families",
    "split_families",
]

_V4_MAX = 32
_V6_MAX = 128


class InvalidPrefix(ValueError):
    """A string that is not a CIDR prefix in canonical network form."""


def is_ipv6(prefix: str) -> bool:
    return ":" in prefix


def _split(prefix: str) -> tuple[int, bytes, int, int]:
    """Return (family, packed address, prefix length, max length) or raise InvalidPrefix."""
    address, slash, length_text = prefix.partition("/")
    if not slash or not length_text.isascii() or not length_text.isdigit():
        raise InvalidPrefix(f"{prefix!r} is not in ADDRESS/LENGTH form")
    if len(length_text) > 1 and length_text[0] == "0":
        raise InvalidPrefix(f"{prefix!r} has a malformed prefix length")
    family, max_length = (socket.AF_INET6, _V6_MAX) if ":" in address else (socket.AF_INET, _V4_MAX)
    try:
        packed = socket.inet_pton(family, address)
    except (OSError, ValueError):
        raise InvalidPrefix(f"{prefix!r} is not a valid IP address") from None
    length = int(length_text)
    if length > max_length:
        raise InvalidPrefix(f"{prefix!r} has a prefix length over {max_length}")
    return family, packed, length, max_length


def canonical_prefix(prefix: str) -> str:
    """Validate ``prefix`` and return its canonical text (IPv6 compressed, lower case).

    Host bits must be zero: a prefix like ``10.0.0.1/8`` is ambiguous data, not a network,
    and firewall tools disagree on what to do with it, so it is refused rather than guessed.
    """
    family, packed, length, max_length = _split(prefix)
    if int.from_bytes(packed, "big") & ((1 << (max_length - length)) - 1):
        raise InvalidPrefix(f"{prefix!r} has host bits set")
    if family == socket.AF_INET:
        # inet_pton(AF_INET) accepts only strict dotted quads, so the input is canonical already.
        return prefix
    return f"{socket.inet_ntop(family, packed)}/{length}"


# Host-bit masks by prefix-length text; the key sets double as the list of valid lengths, which
# also rules out forms int() would accept ("08", " 8", "+8", "1_0", non-ASCII digits).
_V4_HOST_MASK = {str(n): (1 << (_V4_MAX - n)) - 1 for n in range(_V4_MAX + 1)}
_V6_HOST_MASK_HIGH = {str(n): ((1 << (_V6_MAX - n)) - 1) >> 64 for n in range(_V6_MAX + 1)}
_V6_HOST_MASK_LOW = {str(n): ((1 << (_V6_MAX - n)) - 1) & (2**64 - 1) for n in range(_V6_MAX + 1)}
_pton4 = partial(socket.inet_pton, socket.AF_INET)
_pton6 = partial(socket.inet_pton, socket.AF_INET6)
_ntop6 = partial(socket.inet_ntop, socket.AF_INET6)


_TWO_SLASHES_ON_A_LINE = re.compile(r"/[^\n]*/")


def _split_all(group: list[str]) -> tuple[list[str], list[str]] | None:
    """Split every "ADDRESS/LENGTH" at once; None unless each item has exactly one "/".

    Joining, replacing and splitting whole strings runs in C, far faster than a per-item split.
    """
    joined = "\n".join(group)
    if joined.count("\n") != len(group) - 1:
        return None
    # As many "/" as items and no line with two: then every item has exactly one.
    if joined.count("/") != len(group) or _TWO_SLASHES_ON_A_LINE.search(joined):
        return None
    parts = joined.replace("/", "\n").split("\n")
    return parts[0::2], parts[1::2]


def all_canonical(prefixes: Collection[object]) -> bool:
    """True when every item is a valid CIDR prefix already in canonical form.

    The batch equivalent of calling :func:`canonical_prefix` on each item and comparing, written
    as C-level ``map`` pipelines: a full file holds ~90,000 prefixes and this check runs on every
    load. A False answer is followed by the per-item path, which names the offenders.
    """
    strings: Collection[str] = prefixes  # type: ignore[assignment]
    try:
        # str.__contains__ raises TypeError for a non-string item, which answers False below.
        is_v6 = list(map(str.__contains__, strings, itertools.repeat(":")))
        v4 = list(itertools.compress(strings, map(operator.not_, is_v6)))
        v6 = list(itertools.compress(strings, is_v6))
        if v4:
            split = _split_all(v4)
            if split is None or not set(split[1]) <= _V4_HOST_MASK.keys():
                return False
            values = struct.unpack(f">{len(v4)}I", b"".join(map(_pton4, split[0])))
            if any(map(operator.and_, values, map(_V4_HOST_MASK.__getitem__, split[1]))):
                return False
        if v6:
            split = _split_all(v6)
            if split is None or not set(split[1]) <= _V6_HOST_MASK_HIGH.keys():
                return False
            packed = list(map(_pton6, split[0]))
            words = struct.unpack(f">{2 * len(v6)}Q", b"".join(packed))
            lengths = split[1]
            if any(map(operator.and_, words[0::2], map(_V6_HOST_MASK_HIGH.__getitem__, lengths))):
                return False
            if any(map(operator.and_, words[1::2], map(_V6_HOST_MASK_LOW.__getitem__, lengths))):
                return False
            if list(map(_ntop6, packed)) != split[0]:
                return False
    except (OSError, ValueError, TypeError):
        return False
    return True


def split_families(prefixes: Iterable[str]) -> tuple[list[str], list[str]]:
    """(IPv4, IPv6) prefixes, each in the given order."""
    items = prefixes if isinstance(prefixes, list) else list(prefixes)
    is_v6 = list(map(str.__contains__, items, itertools.repeat(":")))
    return (
        list(itertools.compress(items, map(operator.not_, is_v6))),
        list(itertools.compress(items, is_v6)),
    )


def _addresses_and_lengths(prefixes: list[str]) -> tuple[list[str], list[int]]:
    # Valid prefixes hold exactly one "/", so one split of the joined text pairs them up.
    parts = "\n".join(prefixes).replace("/", "\n").split("\n")
    return parts[0::2], list(map(int, parts[1::2]))


def _numbers(addresses: list[str], v6: bool) -> list[int]:
    """The addresses as integers, packed and unpacked in one pass each."""
    if v6:
        words = struct.unpack(f">{2 * len(addresses)}Q", b"".join(map(_pton6, addresses)))
        high = map(operator.lshift, words[0::2], itertools.repeat(64))
        return list(map(operator.or_, high, words[1::2]))
    return list(struct.unpack(f">{len(addresses)}I", b"".join(map(_pton4, addresses))))


def _sorted_family(prefixes: list[str], v6: bool) -> list[str]:
    if len(prefixes) < 2:
        return prefixes
    keys = prefix_keys(prefixes, v6)
    order = sorted(range(len(prefixes)), key=keys.__getitem__)
    return list(map(prefixes.__getitem__, order))


def sorted_families(prefixes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Distinct valid prefixes as numerically sorted (IPv4, IPv6) lists: by address, then by
    length (a covering network before the networks inside it).

    Whole-list passes in C (one ``inet_pton`` map, one integer key per prefix): a per-prefix
    Python key function costs more than rendering every template for AzureCloud.
    """
    # dict.fromkeys keeps the given order, often nearly sorted already: less work for Timsort.
    v4, v6 = split_families(list(dict.fromkeys(prefixes)))
    return _sorted_family(v4, v6=False), _sorted_family(v6, v6=True)


def sort_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The distinct prefixes in numeric order, IPv4 first (stable output for diffs and configs)."""
    v4, v6 = sorted_families(prefixes)
    return v4 + v6


def select_family(prefixes: Iterable[str], *, ipv4: bool = True, ipv6: bool = True) -> list[str]:
    """Keep only the IPv4 and/or IPv6 prefixes, in their given order."""
    return [p for p in prefixes if (ipv6 if ":" in p else ipv4)]


_HOST_MASKS = {
    _V4_MAX: list(_V4_HOST_MASK.values()),
    _V6_MAX: [(1 << (_V6_MAX - n)) - 1 for n in range(_V6_MAX + 1)],
}


def _bounds(prefixes: list[str], v6: bool) -> tuple[list[int], list[int]]:
    """First and last address of each of one family's valid prefixes, in the given order."""
    addresses, lengths = _addresses_and_lengths(prefixes)
    firsts = _numbers(addresses, v6)
    return firsts, list(map(operator.or_, firsts, map(_HOST_MASKS[_bits(v6)].__getitem__, lengths)))


def prefix_keys(prefixes: list[str], v6: bool) -> list[int]:
    """One integer per valid prefix of one family, in the given order: the address, then the
    length in the low 8 bits. Sorted, they are numeric order (a covering network first)."""
    if not prefixes:
        return []
    addresses, lengths = _addresses_and_lengths(prefixes)
    numbers = _numbers(addresses, v6)
    return list(map(operator.or_, map(operator.lshift, numbers, itertools.repeat(8)), lengths))


def key_ranges(keys: list[int], v6: bool) -> tuple[list[int], list[int]]:
    """The first and last addresses of the prefixes behind :func:`prefix_keys` keys."""
    firsts = list(map(operator.rshift, keys, itertools.repeat(8)))
    lengths = map(operator.and_, keys, itertools.repeat(0xFF))
    return firsts, list(map(operator.or_, firsts, map(_HOST_MASKS[_bits(v6)].__getitem__, lengths)))


def _sweep(
    firsts: list[int], lasts: list[int], texts: Sequence[str | None]
) -> tuple[list[int], list[int], list[str | None]]:
    """Merge ranges ordered by first address into disjoint, non-touching ranges.

    Returns (firsts, lasts, texts): a range that is still exactly one of the given ranges (it
    only absorbed ranges inside it) keeps that range's text, a range that really merged has None.
    """
    if not firsts:
        return [], [], []
    range_firsts: list[int] = []
    range_lasts: list[int] = []
    range_texts: list[str | None] = []
    top_first, top_last, top_text = firsts[0], lasts[0], texts[0]
    for first, last, text in zip(firsts, lasts, texts, strict=True):
        if first <= top_last + 1:  # overlaps or touches the range being built
            if last > top_last:
                top_last, top_text = last, None
            continue
        range_firsts.append(top_first)
        range_lasts.append(top_last)
        range_texts.append(top_text)
        top_first, top_last, top_text = first, last, text
    range_firsts.append(top_first)
    range_lasts.append(top_last)
    range_texts.append(top_text)
    return range_firsts, range_lasts, range_texts


def merge_ranges(firsts: list[int], lasts: list[int]) -> tuple[list[int], list[int]]:
    """Integer ranges ordered by first address, merged into sorted, disjoint, non-touching
    ranges: (firsts, lasts)."""
    merged_firsts, merged_lasts, _ = _sweep(firsts, lasts, [None] * len(firsts))
    return merged_firsts, merged_lasts


def merge_family(prefixes: list[str], v6: bool) -> list[str]:
    """The fewest prefixes covering exactly the addresses of one family's prefixes, given as
    :func:`sorted_families` returns them.

    A sweep over the ranges: a range that is still exactly one of the given networks keeps its
    text; ranges that really merged are split back into CIDRs with integer arithmetic (the
    AzureCloud tag alone merges into thousands of ranges, where a netaddr object per range
    would cost ~30 us each).
    """
    if len(prefixes) < 2:
        return list(prefixes)
    bits = _bits(v6)
    firsts, lasts = _bounds(prefixes, v6)
    result: list[str] = []
    for first, last, text in zip(*_sweep(firsts, lasts, prefixes), strict=True):
        if text:
            result.append(text)
        else:
            result.extend(_range_cidrs(first, last, bits))
    return result


def ranges_to_cidrs(firsts: list[int], lasts: list[int], v6: bool) -> list[str]:
    """The fewest CIDRs covering exactly the given integer ranges of one family, in their order
    (fewest overall when the ranges neither overlap nor touch, as :func:`merge_ranges` gives)."""
    bits = _bits(v6)
    cidrs: list[str] = []
    for first, last in zip(firsts, lasts, strict=True):
        cidrs.extend(_range_cidrs(first, last, bits))
    return cidrs


def _bits(v6: bool) -> int:
    return _V6_MAX if v6 else _V4_MAX


def aggregate(prefixes: Iterable[str]) -> list[str]:
    """Merge adjacent and overlapping networks into the fewest covering prefixes, sorted."""
    v4, v6 = sorted_families(prefixes)
    return merge_family(v4, v6=False) + merge_family(v6, v6=True)


def _range_cidrs(first: int, last: int, bits: int) -> list[str]:
    """The CIDRs exactly covering first..last: at each step the largest aligned block that fits."""
    family, width = (socket.AF_INET6, 16) if bits == _V6_MAX else (socket.AF_INET, 4)
    cidrs = []
    while first <= last:
        alignment = (first & -first).bit_length() - 1 if first else bits
        size = min(alignment, (last - first + 1).bit_length() - 1)
        cidrs.append(f"{socket.inet_ntop(family, first.to_bytes(width, 'big'))}/{bits - size}")
        first += 1 << size
    return cidrs
