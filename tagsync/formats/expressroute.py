"""ExpressRoute notes: the Microsoft peering route filter (BGP communities) that can replace
opened IP ranges, with az CLI and Az PowerShell commands, for the profile and the file's cloud.

What each profile and cloud may use is in ``tagsync/profiles.py`` (with its pages); the
communities are checked against Microsoft's "Service to BGP community value" table in
"ExpressRoute routing requirements" (azure-docs ``articles/expressroute/expressroute-routing.md``,
https://learn.microsoft.com/azure/expressroute/expressroute-routing#service-to-bgp-community-value),
reproduced in :data:`SERVICE_COMMUNITIES` as far as it could be read: the service table and,
for US Government, the "Service in National Clouds" table (no service community is listed
for China; "Office 365 communities aren't supported over Microsoft Peering" there). A value
outside the table is a warning (Microsoft adds services; ``Get-AzBgpServiceCommunity`` lists
the current ones), a value that is not ``ASN:VALUE`` is an error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import communities, matching, one_of
from tagsync.formats.settings import RenderSettings
from tagsync.profiles import DEFAULT_PROFILE, DOCS, PROFILES, Doc, ExpressRouteFacts

__all__ = [
    "FORMAT",
    "SERVICE_COMMUNITIES",
    "ExpressRouteOptions",
    "ExpressRouteView",
    "community_warnings",
    "expressroute_view",
]

AZURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.()-]{0,79}")
MDI_TAG = "AzureAdvancedThreatProtection"
MDI_COMMUNITY = "12076:5220"

# "Service to BGP community value" (Public) and "Service in National Clouds" (US Government).
SERVICE_COMMUNITIES: dict[str, dict[str, str]] = {
    "public": {
        "12076:5010": "Exchange Online",
        "12076:5020": "SharePoint Online",
        "12076:5030": "Skype For Business Online",
        "12076:5040": "CRM Online",
        "12076:5050": "Azure Global Services",
        "12076:5060": "Azure Active Directory",
        "12076:5070": "Azure Resource Manager",
        "12076:5100": "Other Office 365 Online services",
        "12076:5220": "Microsoft Defender for Identity",
        "12076:5250": "Microsoft PSTN services",
    },
    "usgov": {
        "12076:5110": "Exchange Online",
        "12076:5120": "SharePoint Online",
        "12076:5130": "Skype For Business Online",
        "12076:5160": "Azure Active Directory",
        "12076:5200": "Other Office 365 Online services",
    },
    "china": {},
}


@dataclass(frozen=True, slots=True)
class ExpressRouteOptions(FormatOptions):
    resource_group: str = setting("MyResourceGroup", matching(AZURE_NAME))
    circuit: str = setting("MyCircuit", matching(AZURE_NAME))
    route_filter: str = setting("tagsync-mdi-filter", matching(AZURE_NAME))
    rule_name: str = setting("allow-mdi", matching(AZURE_NAME))
    location: str = setting("westeurope", matching(re.compile(r"[a-z0-9]{1,40}")))
    # Empty: the communities documented for the profile in the file's cloud (12076:5220,
    # Microsoft Defender for Identity, for sensor v2.x in Public; none elsewhere).
    communities: tuple[str, ...] = setting((), communities)
    # Set from the config's `profile:` (profiles.apply_profile) unless given here.
    profile: str = setting(DEFAULT_PROFILE, one_of(*PROFILES))


@dataclass(frozen=True, slots=True)
class Community:
    value: str
    service: str | None  # its name in the cloud's table; None: not in the table


@dataclass(frozen=True, slots=True)
class ExpressRouteView:
    """What the notes say: the documented facts, and the communities a route filter gets."""

    profile: str
    sensor: str
    cloud: str  # cloud name (public, usgov, china) or the file's own value if unknown
    facts: ExpressRouteFacts | None
    communities: tuple[Community, ...]  # empty: no route filter is proposed
    configured: bool  # the communities come from render.expressroute.communities
    warnings: tuple[str, ...]
    tags_match: bool  # the tags are exactly the ones the communities are documented for
    sources: tuple[Doc, ...]


def community_warnings(values: tuple[str, ...], cloud: str) -> list[str]:
    """One line per community the cloud's table does not list."""
    table = SERVICE_COMMUNITIES.get(cloud, {})
    result = []
    for value in values:
        if value in table:
            continue
        elsewhere = [c for c, t in SERVICE_COMMUNITIES.items() if value in t and c != cloud]
        known = ""
        if elsewhere:
            known = f" (listed for {elsewhere[0]}: {SERVICE_COMMUNITIES[elsewhere[0]][value]})"
        result.append(
            f"render.expressroute.communities: {value} is not in Microsoft's service-to-BGP-"
            f"community table for the {cloud} cloud{known}; check it with "
            "Get-AzBgpServiceCommunity or az network route-filter rule list-service-communities"
        )
    return result


def _cloud_name(file_cloud: str) -> str:
    from tagsync.clouds import CLOUDS

    for cloud in CLOUDS.values():
        if cloud.file_cloud.lower() == str(file_cloud).lower():
            return cloud.name
    return str(file_cloud)


def expressroute_view(
    options: ExpressRouteOptions, file_cloud: str, tag_names: list[str]
) -> ExpressRouteView:
    profile = PROFILES[options.profile]
    cloud = _cloud_name(file_cloud)
    facts = profile.expressroute.get(cloud)
    configured = bool(options.communities)
    values = options.communities or (facts.communities if facts else ())
    table = SERVICE_COMMUNITIES.get(cloud, {})
    chosen = tuple(Community(v, table.get(v)) for v in values)
    warnings = tuple(community_warnings(options.communities, cloud))
    sources = (facts.docs if facts else ()) + (DOCS["expressroute-routing"],)
    return ExpressRouteView(
        profile=profile.name,
        sensor=profile.sensor,
        cloud=cloud,
        facts=facts,
        communities=chosen,
        configured=configured,
        warnings=warnings,
        tags_match=tag_names == [MDI_TAG] and values == (MDI_COMMUNITY,),
        sources=tuple(dict.fromkeys(sources)),
    )


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(ExpressRouteOptions)

    def view() -> ExpressRouteView:
        names = [tag.name for tag in selection.tags]
        result = expressroute_view(options, selection.service_tags.cloud, names)
        for warning in result.warnings:
            # Through the tagsync logger (its formatter adds "tagsync: warning:"): plain on
            # stderr, or a JSON line under --log-format json.
            logging.getLogger("tagsync").warning("%s", warning)
        return result

    return {"er": view}


FORMAT = Format(
    name="expressroute",
    summary="ExpressRoute Microsoft peering route filter notes (the profile's documented "
    "community for the cloud, e.g. 12076:5220)",
    outputs=("expressroute/notes.md",),
    options=ExpressRouteOptions,
    context=_context,
)
