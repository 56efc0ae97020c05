"""nftables: sets and a regular chain added to a named table (tagsync's own or the admin's),
refilled in one ``nft -f`` transaction, and ``apply.sh`` that hooks the chain in once.

Nothing the file does not own is deleted or replaced: it only ``add``s what is missing (table,
sets, chain; ``add`` leaves an existing object as it is), then ``flush set`` + ``add element``
and ``flush chain`` + the allow rules, all in the one transaction ``nft -f`` commits
atomically, so a packet sees either the old or the new contents. An accept in one table does
not override a drop in another table's base chain (every base chain on a hook sees the
packet, and a drop is final: nftables wiki, "Configuring chains",
https://wiki.nftables.org/wiki-nftables/index.php/Configuring_chains), and sets cannot be
referenced across tables (nft(8), "SETS"). So on a host whose ruleset drops, ``table`` names
the admin's table (Debian's ``inet filter``) and ``apply.sh`` inserts a jump at the top of its
base chain.

``add chain`` for a name an existing base chain holds fails with EEXIST (kernel commit
77a92189ecfd, "netfilter: nf_tables: report EEXIST on overlaps"), which is one more reason
tagsync's chain never takes a base chain's name.

``mode: standalone`` is for a host with no ruleset of its own: tagsync's table then holds a
complete base chain with ``policy drop`` and ``ct state established,related accept``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tagsync.errors import ConfigError
from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import address_list, matching, one_of, own_name
from tagsync.formats.iptables import HOOKS, by_family
from tagsync.formats.settings import RenderSettings
from tagsync.prefixes import aggregate

__all__ = ["BASE_CHAIN_NAMES", "FORMAT", "NFT_NAME", "NftablesOptions"]

NFT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# The names base chains go by (Debian's inet filter has input, forward and output): tagsync's
# own regular chain never takes one, so it cannot be mistaken for or merged into the admin's.
BASE_CHAIN_NAMES = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING", "INGRESS"})


@dataclass(frozen=True, slots=True)
class NftablesOptions(FormatOptions):
    # The table the sets and chain go into: tagsync's own, or the admin's (e.g. filter).
    table: str = setting("tagsync", matching(NFT_NAME))
    set_v4: str = setting("azure_v4", matching(NFT_NAME))
    set_v6: str = setting("azure_v6", matching(NFT_NAME))
    # tagsync's regular chain holding the allow rules.
    chain: str = setting("tagsync_out", own_name(NFT_NAME, BASE_CHAIN_NAMES, "base chain name"))
    # hook: tagsync's table holds the rules, apply.sh jumps to them from base_chain;
    # standalone: tagsync's table is the whole ruleset of this hook (policy drop).
    mode: str = setting("hook", one_of("hook", "standalone"))
    hook: str = setting("output", one_of(*HOOKS))
    # The base chain in `table` that jumps to `chain` (default: named like the hook).
    base_chain: str | None = setting(None, matching(NFT_NAME))
    sources: tuple[str, ...] = setting((), address_list)

    def __post_init__(self) -> None:
        FormatOptions.__post_init__(self)
        if self.chain == self.base:
            raise ConfigError(
                "render.nftables.chain: tagsync's chain and the base chain must differ "
                f"(both are {self.chain!r})"
            )
        if self.set_v4 == self.set_v6:
            raise ConfigError(f"render.nftables.set_v6: {self.set_v6!r} is also set_v4")

    @property
    def base(self) -> str:
        return self.base_chain or self.hook


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(NftablesOptions)
    values: dict[str, Any] = {
        "base_chain": lambda: options.base,
        # Anonymous nft sets refuse overlapping intervals: the merged networks.
        "sources": lambda: by_family(aggregate(options.sources) if options.sources else []),
    }
    return values


# The templates read the merged prefixes from the engine (merged_v4, merged_v6): nft interval
# sets refuse overlapping elements.
FORMAT = Format(
    name="nftables",
    summary="nftables sets + regular chain added to a named table (nft -f), apply.sh hooks it in",
    outputs=("nftables/tagsync.nft", "nftables/apply.sh"),
    options=NftablesOptions,
    context=_context,
)
