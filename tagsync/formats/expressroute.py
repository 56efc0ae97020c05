"""ExpressRoute notes: the Microsoft peering route filter (BGP community) that replaces
opened IP ranges, with az CLI and Az PowerShell commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tagsync.formats.base import Format, FormatOptions, setting
from tagsync.formats.checks import communities, matching, one_of
from tagsync.profiles import DEFAULT_PROFILE, PROFILES

__all__ = ["FORMAT", "ExpressRouteOptions"]

AZURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.()-]{0,79}")


@dataclass(frozen=True, slots=True)
class ExpressRouteOptions(FormatOptions):
    resource_group: str = setting("MyResourceGroup", matching(AZURE_NAME))
    circuit: str = setting("MyCircuit", matching(AZURE_NAME))
    route_filter: str = setting("tagsync-mdi-filter", matching(AZURE_NAME))
    rule_name: str = setting("allow-mdi", matching(AZURE_NAME))
    location: str = setting("westeurope", matching(re.compile(r"[a-z0-9]{1,40}")))
    # Microsoft Defender for Identity's community in ExpressRoute's service-to-community table.
    communities: tuple[str, ...] = setting(("12076:5220",), communities)
    # Set from the config's `profile:` (profiles.apply_profile) unless given here.
    profile: str = setting(DEFAULT_PROFILE, one_of(*PROFILES))


FORMAT = Format(
    name="expressroute",
    summary="ExpressRoute Microsoft peering route filter notes (community 12076:5220)",
    outputs=("expressroute/notes.md",),
    options=ExpressRouteOptions,
)
