"""iptables/ip6tables with ipset: sets refilled through an atomic swap, rules in tagsync's own
chain, and ``apply.sh`` that loads both and *inserts* the jump into OUTPUT (this host) or
FORWARD (a Linux gateway in front of the sensors) once.

The jump is inserted (``iptables -I CHAIN N``), never appended: an admin's OUTPUT often ends
in ``-j REJECT`` rather than a drop policy, and a rule after it is never reached (iptables(8),
``--insert``/``--append``; iptables-extensions(8) for ``set`` and ``conntrack``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import Check, address_list, int_between, matching, one_of, own_name
from tagsync.formats.settings import RenderSettings

__all__ = [
    "BUILTIN_CHAINS",
    "FORMAT",
    "HOOKS",
    "IpsetView",
    "IptablesOptions",
    "by_family",
    "ipset_sizing",
    "ipsets",
]

# iptables chain names: at most 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL).
CHAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,27}")
# ipset names: at most 31 characters; 4 are kept free for the "-tmp" swap set.
IPSET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,26}")
# Names tagsync's own chain must never take: the built-in chains of every table, and the
# standard targets (a chain named like a target cannot be jumped to).
BUILTIN_CHAINS = frozenset(
    {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}
    | {"ACCEPT", "DROP", "REJECT", "RETURN", "QUEUE", "NFQUEUE", "LOG", "JUMP", "GOTO"}
)
# Where the chain is hooked in: this host's own traffic, or traffic a gateway forwards.
HOOKS = ("output", "forward")


def own_chain_name() -> Check:
    return own_name(CHAIN_NAME, BUILTIN_CHAINS, "built-in chain or target name")


@dataclass(frozen=True, slots=True)
class IptablesOptions(FormatOptions):
    chain: str = setting("TAGSYNC-OUT", own_chain_name())
    set_v4: str = setting("tagsync4", matching(IPSET_NAME))
    set_v6: str = setting("tagsync6", matching(IPSET_NAME))
    # output: this host's connections; forward: a gateway in front of the sensors.
    hook: str = setting("output", one_of(*HOOKS))
    # Rule number the jump is inserted at in OUTPUT/FORWARD (1 = first).
    position: int = setting(1, int_between(1, 65535))
    # Only these sources may reach the tag (e.g. the domain controllers); empty: any.
    sources: tuple[str, ...] = setting((), address_list)


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


def by_family(prefixes: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """{"v4": [...], "v6": [...]} of canonical prefixes (the IPv6 ones contain a colon)."""
    return {
        "v4": [p for p in prefixes if ":" not in p],
        "v6": [p for p in prefixes if ":" in p],
    }


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(IptablesOptions)
    values: dict[str, Any] = {
        "ipsets": lambda: ipsets(selection, options),
        "sources": lambda: by_family(options.sources),
    }
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
