"""nftables: one ``nft -f`` file with interval sets of the merged prefixes and an allow rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tagsync.formats.base import Format, FormatOptions, setting
from tagsync.formats.checks import matching

__all__ = ["FORMAT", "NFT_NAME", "NftablesOptions"]

NFT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


@dataclass(frozen=True, slots=True)
class NftablesOptions(FormatOptions):
    table: str = setting("tagsync", matching(NFT_NAME))
    set_v4: str = setting("azure_v4", matching(NFT_NAME))
    set_v6: str = setting("azure_v6", matching(NFT_NAME))


# The templates read the merged prefixes from the engine (merged_v4, merged_v6): nft interval
# sets refuse overlapping elements. Nothing else is computed for this format.
FORMAT = Format(
    name="nftables",
    summary="nftables table with interval sets of the merged prefixes (nft -f)",
    outputs=("nftables/tagsync.nft",),
    options=NftablesOptions,
)
