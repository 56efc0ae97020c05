"""IP prefix helpers: strict CIDR parsing, numeric sort order, family filters and aggregation.

Parsing is on the hot path (tens of thousands of prefixes per file), so it uses the C-level
``socket.inet_pton`` instead of building ``ipaddress``/``netaddr`` objects for every prefix.
"""

from __future__ import annotations

import itertools
import operator
import socket
import struct
from collections.abc import Collection, Iterable, Iterator
from functools import partial

__all__ = [
    "InvalidPrefix",
    "aggregate",
    "all_canonical",
    "canonical_prefix",
    "is_ipv6",
    "prefix_sort_key",
    "select_family",
    "sort_prefixes",
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


def _split_all(group: list[str]) -> tuple[list[str], list[str]] | None:
    """Split every "ADDRESS/LENGTH" at once; None unless each item has exactly one "/".

    Joining, replacing and splitting whole strings runs in C, far faster than a per-item split.
    """
    joined = "\n".join(group)
    if joined.count("\n") != len(group) - 1:
        return None
    if set(map(str.count, group, itertools.repeat("/"))) != {1}:
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


def prefix_sort_key(prefix: str) -> tuple[int, int, int]:
    """Sort IPv4 before IPv6, then by numeric address, then by prefix length."""
    family, packed, length, _ = _split(prefix)
    return (0 if family == socket.AF_INET else 1, int.from_bytes(packed, "big"), length)


def sort_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Return the distinct prefixes in numeric order (stable output for diffs and configs)."""
    return sorted(set(prefixes), key=prefix_sort_key)


def select_family(prefixes: Iterable[str], *, ipv4: bool = True, ipv6: bool = True) -> list[str]:
    """Keep only the IPv4 and/or IPv6 prefixes, in their given order."""
    return [p for p in prefixes if (ipv6 if ":" in p else ipv4)]


def _intervals(prefixes: Iterable[str]) -> list[tuple[int, int, int, str]]:
    """(family rank, first address, last address, text) per prefix, sorted by range start
    with the widest network first, so a sweep meets covering networks before covered ones."""
    spans = []
    for prefix in set(prefixes):
        family, packed, length, max_length = _split(prefix)
        first = int.from_bytes(packed, "big")
        last = first | ((1 << (max_length - length)) - 1)
        spans.append((0 if family == socket.AF_INET else 1, first, -last, prefix))
    spans.sort()
    return [(rank, first, -negative_last, text) for rank, first, negative_last, text in spans]


def aggregate(prefixes: Iterable[str]) -> list[str]:
    """Merge adjacent and overlapping networks into the fewest covering prefixes, sorted.

    A sweep over the sorted ranges finds the merged ranges; a range that is still exactly one
    of the given networks keeps its text, and only ranges that really merged are split back
    into CIDRs (integer arithmetic: netaddr objects per range cost ~30 us each, and the
    AzureCloud tag alone merges into thousands of ranges).
    """
    merged: list[tuple[int, int, int, str | None]] = []  # rank, first, last, text if unchanged
    for rank, first, last, text in _intervals(prefixes):
        if merged:
            top_rank, top_first, top_last, _ = merged[-1]
            if rank == top_rank and first <= top_last + 1:
                if last > top_last:
                    merged[-1] = (rank, top_first, last, None)
                continue  # inside (or equal to) the current range
        merged.append((rank, first, last, text))
    result: list[str] = []
    for rank, first, last, unchanged in merged:
        if unchanged is not None:
            result.append(unchanged)
            continue
        result.extend(_range_to_cidrs(rank, first, last))
    return result


def _range_to_cidrs(rank: int, first: int, last: int) -> Iterator[str]:
    """The CIDRs exactly covering first..last: at each step the largest aligned block that fits."""
    family, max_length, width = (
        (socket.AF_INET, _V4_MAX, 4) if rank == 0 else (socket.AF_INET6, _V6_MAX, 16)
    )
    while first <= last:
        alignment = (first & -first).bit_length() - 1 if first else max_length
        span = (last - first + 1).bit_length() - 1
        bits = min(alignment, span)
        address = socket.inet_ntop(family, first.to_bytes(width, "big"))
        yield f"{address}/{max_length - bits}"
        first += 1 << bits
