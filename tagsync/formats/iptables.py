"""iptables/ip6tables with ipset: sets refilled through an atomic swap, rules in tagsync's own
chain, and ``apply.sh`` that loads both and hooks the chain into OUTPUT once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import matching
from tagsync.formats.settings import RenderSettings

__all__ = ["FORMAT", "IpsetView", "IptablesOptions", "ipset_sizing", "ipsets"]

# iptables chain names: at most 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL).
CHAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,27}")
# ipset names: at most 31 characters; 4 are kept free for the "-tmp" swap set.
IPSET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,26}")


@dataclass(frozen=True, slots=True)
class IptablesOptions(FormatOptions):
    chain: str = setting("TAGSYNC-OUT", matching(CHAIN_NAME))
    set_v4: str = setting("tagsync4", matching(IPSET_NAME))
    set_v6: str = setting("tagsync6", matching(IPSET_NAME))


@dataclass(frozen=True, slots=True)
class IpsetView:
    """One ``hash:net`` set as the templates write it, with its swap partner."""

    name: str
    tmp: str
    family: str  # "inet" or "inet6"
    hashsize: int
    maxelem: int
    prefixes: list[str]


def _next_power_of_two(value: int) -> int:
    return 1 << max(value - 1, 1).bit_length()


def ipset_sizing(count: int) -> tuple[int, int]:
    """(hashsize, maxelem) for a hash:net set of ``count`` entries.

    maxelem keeps 2x headroom and moves in big power-of-two steps, because ``create -exist``
    refuses an existing set whose maxelem differs; hashsize (a power of two) may differ freely.
    """
    maxelem = max(65536, _next_power_of_two(2 * count))
    hashsize = max(1024, _next_power_of_two(max(count // 4, 1)))
    return hashsize, maxelem


def _ipset(name: str, family: str, prefixes: list[str]) -> IpsetView:
    hashsize, maxelem = ipset_sizing(len(prefixes))
    return IpsetView(name, f"{name}-tmp", family, hashsize, maxelem, prefixes)


def ipsets(selection: Selection, options: IptablesOptions) -> list[IpsetView]:
    """[IPv4 set, IPv6 set] of the selected prefixes (the sensor profile matches them too)."""
    return [
        _ipset(options.set_v4, "inet", selection.v4),
        _ipset(options.set_v6, "inet6", selection.v6),
    ]


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(IptablesOptions)
    values: dict[str, Any] = {"ipsets": lambda: ipsets(selection, options)}
    return values


FORMAT = Format(
    name="iptables",
    summary="ipset sets (atomic swap) + iptables/ip6tables rules in their own chain, apply.sh",
    outputs=(
        "iptables/ipset.restore",
        "iptables/iptables.rules",
        "iptables/ip6tables.rules",
        "iptables/apply.sh",
    ),
    options=IptablesOptions,
    context=_context,
)
