"""IP prefix helpers: strict CIDR parsing, numeric sort order, family filters and aggregation.

Parsing is on the hot path (tens of thousands of prefixes per file), so it uses the C-level
``socket.inet_pton`` instead of building ``ipaddress``/``netaddr`` objects for every prefix.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

__all__ = [
    "InvalidPrefix",
    "aggregate",
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


def aggregate(prefixes: Iterable[str]) -> list[str]:
    """Merge adjacent and overlapping networks into the fewest covering prefixes, sorted."""
    import netaddr  # imported here: only --aggregate and renderers that ask for it pay for it

    merged = netaddr.cidr_merge(list(prefixes))
    return sort_prefixes(str(network) for network in merged)
