"""Connectivity profiles: which Defender for Identity sensor generation the site runs, and so
which service tags, proxy hosts, ExpressRoute communities and ports it needs.

Every fact carries the documentation page it comes from (:class:`Doc`), so the texts tagsync
ships (proxy snippets, ExpressRoute notes, ``tagsync doctor``) can name it:

* ``mdi-v2`` (the default: tagsync's behaviour before profiles): sensor v2.x. Tag
  AzureAdvancedThreatProtection (``deploy/configure-proxy.md``, "Enable access with a service
  tag"); proxy host ``<workspace>sensorapi.atp.azure.com`` plus the certificate hosts
  (``deploy/configure-proxy.md``); US Government hosts from ``us-govt-gcc-high.md``;
  ExpressRoute community 12076:5220 (``deploy/prerequisites-sensor-version-2.md`` and the
  "Service to BGP community value" table of Azure's ``expressroute-routing.md``).
* ``mdi-v3``: sensor v3.x, which "utilizes the same URIs as Microsoft Defender for Endpoint"
  (``deploy/prerequisites-sensor-version-3.md``). Tags MicrosoftDefenderForEndpoint and
  OneDsCollector: "The IP ranges from both service tags are needed" (Defender for Endpoint's
  ``streamlined-device-connectivity-urls-commercial.md``), domain
  ``*.endpoint.security.microsoft.com``; "Has limitations working with Azure ExpressRoute".

This module is on the path of every command: plain data, no heavy imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tagsync.errors import ConfigError, UnknownTagError

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.model import ServiceTags

__all__ = [
    "CERTIFICATE_HOSTS",
    "CERTIFICATE_PATHS",
    "DEFAULT_PROFILE",
    "DOCS",
    "PROFILES",
    "USGOV_OFFERINGS",
    "Doc",
    "ExpressRouteFacts",
    "Profile",
    "ProxyPlan",
    "apply_profile",
    "get_profile",
    "require_profile_tags",
]

DEFAULT_PROFILE = "mdi-v2"
_LEARN = "https://learn.microsoft.com"


@dataclass(frozen=True, slots=True)
class Doc:
    """A documentation page: its title and its address on learn.microsoft.com."""

    title: str
    url: str

    def __str__(self) -> str:
        return f"{self.title} <{self.url}>"


DOCS: dict[str, Doc] = {
    "mdi-proxy": Doc(
        "Connect to the Defender for Identity service (defender-docs "
        "defender-for-identity/deploy/configure-proxy.md)",
        f"{_LEARN}/defender-for-identity/deploy/configure-proxy",
    ),
    "mdi-usgov": Doc(
        "Microsoft Defender for Identity for US Government offerings (defender-docs "
        "defender-for-identity/us-govt-gcc-high.md)",
        f"{_LEARN}/defender-for-identity/us-govt-gcc-high",
    ),
    "mdi-v2-prerequisites": Doc(
        "Defender for Identity sensor v2.x prerequisites (defender-docs "
        "defender-for-identity/deploy/prerequisites-sensor-version-2.md)",
        f"{_LEARN}/defender-for-identity/deploy/prerequisites-sensor-version-2",
    ),
    "mdi-v3-prerequisites": Doc(
        "Defender for Identity sensor v3.x prerequisites (defender-docs "
        "defender-for-identity/deploy/prerequisites-sensor-version-3.md)",
        f"{_LEARN}/defender-for-identity/deploy/prerequisites-sensor-version-3",
    ),
    "mde-streamlined": Doc(
        "Microsoft Defender for Endpoint streamlined connectivity URLs - commercial "
        "(defender-docs defender-endpoint/streamlined-device-connectivity-urls-commercial.md)",
        f"{_LEARN}/defender-endpoint/streamlined-device-connectivity-urls-commercial",
    ),
    "mde-streamlined-gov": Doc(
        "Microsoft Defender for Endpoint streamlined connectivity URLs - US government "
        "environments (Preview)",
        f"{_LEARN}/defender-endpoint/streamlined-device-connectivity-urls-gov",
    ),
    "expressroute-routing": Doc(
        "ExpressRoute routing requirements, Service to BGP community value (azure-docs "
        "articles/expressroute/expressroute-routing.md)",
        f"{_LEARN}/azure/expressroute/expressroute-routing#service-to-bgp-community-value",
    ),
    "m365-expressroute": Doc(
        "Azure ExpressRoute for Microsoft 365",
        f"{_LEARN}/microsoft-365/enterprise/azure-expressroute",
    ),
}

# Certificate validation: hosts the sensor's TLS stack fetches revocation lists and trust lists
# from ("If your proxy or firewall uses explicit allowlists", configure-proxy.md). Defender for
# Endpoint's streamlined page lists the same destinations on port 80 (plain HTTP).
CERTIFICATE_HOSTS = ("crl.microsoft.com", "ctldl.windowsupdate.com")
CERTIFICATE_PATHS = ("www.microsoft.com/pkiops/", "www.microsoft.com/pki/")

# Azure Government hosts three offerings whose sensor endpoints differ (us-govt-gcc-high.md).
USGOV_OFFERINGS = ("gcc", "gcc-high", "dod")


@dataclass(frozen=True, slots=True)
class ProxyPlan:
    """What a proxy must let through for one profile in one cloud (or US Gov offering)."""

    # The sensor's host is f"{workspace}{workspace_suffix}"; None: not workspace-specific.
    workspace_suffix: str | None
    # Squid dstdomain syntax (".name" = name and its subdomains): allowed without a workspace
    # (v2: the service's domain, wider than the documented host) or always (v3).
    domains: tuple[str, ...]
    doc: Doc
    certificate_doc: Doc


@dataclass(frozen=True, slots=True)
class ExpressRouteFacts:
    """What the documentation says about ExpressRoute for one profile in one cloud."""

    communities: tuple[str, ...]  # documented service communities; empty: none documented
    summary: str  # one paragraph, in the documentation's terms
    docs: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    sensor: str  # "v2.x", "v3.x"
    summary: str
    tags: tuple[str, ...]
    tags_doc: Doc
    # cloud name ("public", "china") or "usgov-<offering>" -> plan; absent: nothing documented.
    proxy: Mapping[str, ProxyPlan]
    expressroute: Mapping[str, ExpressRouteFacts]  # by cloud name
    ports_doc: Doc

    def proxy_plan(self, cloud: str, offering: str | None) -> ProxyPlan | None:
        """The plan for ``cloud`` (and US Gov ``offering``), or None when none is documented."""
        if cloud == "usgov":
            return self.proxy.get(f"usgov-{offering}") if offering else None
        return self.proxy.get(cloud)


def _v2_plan(suffix: str, domain: str, doc: Doc) -> ProxyPlan:
    return ProxyPlan(suffix, (domain,), doc, DOCS["mdi-proxy"])


_V2_EXPRESSROUTE = {
    "public": ExpressRouteFacts(
        ("12076:5220",),
        "Sensor v2.x traffic can use an ExpressRoute circuit's Microsoft peering with a route "
        "filter that allows the Microsoft Defender for Identity service community 12076:5220.",
        (DOCS["mdi-v2-prerequisites"], DOCS["expressroute-routing"]),
    ),
    "usgov": ExpressRouteFacts(
        (),
        "Nothing is documented for Defender for Identity over ExpressRoute in Azure Government: "
        "the national-cloud service table lists US Government communities for Exchange Online "
        "(12076:5110), SharePoint Online (12076:5120), Skype For Business Online (12076:5130), "
        "Azure Active Directory (12076:5160) and Other Office 365 Online services (12076:5200), "
        "and no Defender for Identity community; the US Government page does not mention "
        "ExpressRoute. The Public community 12076:5220 is not listed for this cloud.",
        (DOCS["expressroute-routing"], DOCS["mdi-usgov"]),
    ),
    "china": ExpressRouteFacts(
        (),
        "Nothing is documented for Defender for Identity over ExpressRoute in Azure operated "
        "by 21Vianet: the national-cloud tables list only regional communities for China "
        "(12076:51301 to 12076:51304) and no service community, and Office 365 communities "
        "aren't supported over Microsoft peering there.",
        (DOCS["expressroute-routing"],),
    ),
}

_V3_EXPRESSROUTE_TEXT = (
    'Sensor v3.x "has limitations working with Azure ExpressRoute" (the v3.x prerequisites '
    "page, which points to Azure ExpressRoute for Microsoft 365; earlier versions of that page "
    "said the sensor doesn't support ExpressRoute and recommended sensor v2.x where "
    "ExpressRoute is used). No ExpressRoute community is documented for Defender for "
    "Endpoint's tags MicrosoftDefenderForEndpoint and OneDsCollector"
)

PROFILES: dict[str, Profile] = {
    "mdi-v2": Profile(
        name="mdi-v2",
        sensor="v2.x",
        summary="Defender for Identity sensor v2.x: its own service tag and workspace host",
        tags=("AzureAdvancedThreatProtection",),
        tags_doc=DOCS["mdi-proxy"],
        proxy={
            "public": _v2_plan("sensorapi.atp.azure.com", ".atp.azure.com", DOCS["mdi-proxy"]),
            "usgov-gcc": _v2_plan(
                "sensorapi.gcc.atp.azure.com", ".gcc.atp.azure.com", DOCS["mdi-usgov"]
            ),
            "usgov-gcc-high": _v2_plan(
                "sensorapi.atp.azure.us", ".atp.azure.us", DOCS["mdi-usgov"]
            ),
            "usgov-dod": _v2_plan("sensorapi.atp.azure.us", ".atp.azure.us", DOCS["mdi-usgov"]),
        },
        expressroute=_V2_EXPRESSROUTE,
        ports_doc=DOCS["mdi-v2-prerequisites"],
    ),
    "mdi-v3": Profile(
        name="mdi-v3",
        sensor="v3.x",
        summary="Defender for Identity sensor v3.x: the same URIs and tags as Defender for "
        "Endpoint (streamlined connectivity)",
        tags=("MicrosoftDefenderForEndpoint", "OneDsCollector"),
        tags_doc=DOCS["mde-streamlined"],
        proxy={
            "public": ProxyPlan(
                None,
                (".endpoint.security.microsoft.com",),
                DOCS["mde-streamlined"],
                DOCS["mde-streamlined"],
            ),
            # One streamlined domain for GCC, GCC High and DoD ("USGov" in the page's table).
            **{
                f"usgov-{offering}": ProxyPlan(
                    None,
                    (".endpoint.security.microsoft.us",),
                    DOCS["mde-streamlined-gov"],
                    DOCS["mde-streamlined-gov"],
                )
                for offering in USGOV_OFFERINGS
            },
        },
        expressroute={
            cloud: ExpressRouteFacts(
                (),
                f"{_V3_EXPRESSROUTE_TEXT}.",
                (DOCS["mdi-v3-prerequisites"], DOCS["m365-expressroute"]),
            )
            for cloud in ("public", "usgov", "china")
        },
        ports_doc=DOCS["mdi-v3-prerequisites"],
    ),
}


def get_profile(name: str, where: str = "profile") -> Profile:
    """The profile called ``name``, or a one-line ConfigError with a near-miss suggestion."""
    from tagsync.suggest import did_you_mean

    found = PROFILES.get(name.lower()) if isinstance(name, str) else None
    if found is None:
        raise ConfigError(
            f"{where}: unknown profile {str(name)!r:.40}{did_you_mean(str(name), PROFILES)}; "
            f"choose one of {', '.join(PROFILES)}"
        )
    return found


# Format sections that read the profile (and the proxy, the workspace): filled in from the
# core keys unless the section sets them itself.
_PROFILE_SECTIONS = ("proxy", "expressroute", "mdi-sensor")


def _render_section(config: Config, profile: str) -> Any:
    render = config.section("render")
    if render is not None and not isinstance(render, dict):
        return render  # left to render_settings to refuse, with its own message
    result: dict[str, Any] = dict(render or {})
    for name in _PROFILE_SECTIONS:
        body = result.get(name)
        if body is not None and not isinstance(body, dict):
            continue
        values: dict[str, Any] = {"profile": profile}
        if name == "proxy":
            if config.workspace is not None:
                values["workspace"] = config.workspace
            if config.usgov_offering is not None:
                values["usgov_offering"] = config.usgov_offering
        result[name] = {**values, **(body or {})}  # the section's own keys win
    return result


def apply_profile(config: Config, override: str | None = None) -> Config:
    """The effective config for a run: the profile from ``override`` (``--profile``), else the
    config's ``profile:``, else mdi-v2; its tags unless the config set ``tags:`` itself; and
    the profile (and ``workspace``/``usgov_offering``) passed to the formats that use them."""
    if override is not None:
        profile = get_profile(override, "--profile")
    else:
        profile = get_profile(config.profile, str(config.path or "config"))
    tags = config.tags if config.tags_explicit else profile.tags
    sections = dict(config.sections)
    render = _render_section(config, profile.name)
    if render is not None:
        sections["render"] = render
    return replace(config, profile=profile.name, tags=tags, sections=sections)


def require_profile_tags(service_tags: ServiceTags, config: Config, cloud: str) -> None:
    """Refuse a profile whose tags the loaded file does not publish (mdi-v3 in China), naming
    the tag and the cloud; explicit ``tags:`` are left to the usual unknown-tag error."""
    from tagsync.tagnames import match_tag_name

    if config.tags_explicit:
        return
    profile = get_profile(config.profile)
    missing = [t for t in profile.tags if match_tag_name(service_tags.tags, t) is None]
    if missing:
        where = service_tags.source or service_tags.cloud
        others = [p.name for p in PROFILES.values() if not set(p.tags) & set(missing)]
        hint = f"; use profile {' or '.join(others)} in this cloud" if others else ""
        raise UnknownTagError(
            f"profile {profile.name} needs service tag {', '.join(missing)}, which the {cloud} "
            f"cloud does not publish ({where}){hint}"
        )
