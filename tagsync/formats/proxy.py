"""The proxy allow-list: Squid snippets and a PAC file, as Microsoft's first option for the
Defender for Identity sensor is a proxy instead of opened IP ranges. Never inspect that TLS.

What is allowed comes from the profile (``tagsync/profiles.py``), for the file's cloud:

* sensor v2.x (``mdi-v2``): with ``workspace: NAME``, exactly the workspace's sensor host,
  ``<workspace>sensorapi.atp.azure.com`` (Public, "Connect to the Defender for Identity
  service", ``deploy/configure-proxy.md``), ``<workspace>sensorapi.gcc.atp.azure.com`` (US Gov
  GCC) or ``<workspace>sensorapi.atp.azure.us`` (GCC High and DoD; ``us-govt-gcc-high.md``,
  chosen with ``usgov_offering``); without a workspace the service's domain (``.atp.azure.com``
  as before profiles), which is wider than the documented host.
* sensor v3.x (``mdi-v3``): Defender for Endpoint's streamlined domain,
  ``*.endpoint.security.microsoft.com`` (``streamlined-device-connectivity-urls-commercial.md``)
  or ``*.endpoint.security.microsoft.us`` (US Gov, ``streamlined-device-connectivity-urls-gov``).
* both: the certificate hosts ``crl.microsoft.com``, ``ctldl.windowsupdate.com``,
  ``www.microsoft.com/pkiops/*`` and ``www.microsoft.com/pki/*`` (configure-proxy.md), as plain
  HTTP on port 80, the port Defender for Endpoint's pages give for them. Paths are visible only
  in plain HTTP, so ``www.microsoft.com`` is matched by a Squid ``url_regex`` and a PAC
  ``shExpMatch`` on the URL; everything else is a host match (Squid ``dstdomain``).

``render.proxy.domains`` replaces the service part, as before profiles. The Squid snippets need
only these names; the PAC file also needs the proxy's address, which only the site knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.errors import ConfigError
from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import (
    address_list,
    int_between,
    one_of,
    proxy_domains,
    proxy_host,
)
from tagsync.formats.settings import RenderSettings
from tagsync.profiles import (
    CERTIFICATE_HOSTS,
    CERTIFICATE_PATHS,
    DEFAULT_PROFILE,
    DOCS,
    PROFILES,
    USGOV_OFFERINGS,
    Doc,
)

__all__ = ["FORMAT", "ProxyOptions", "ProxyView", "proxy_view"]


def _workspace(value: object, where: str) -> str:
    from tagsync.config import check_workspace

    checked = check_workspace(value, where)
    assert checked is not None  # None values are not checked
    return checked


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


@dataclass(frozen=True, slots=True)
class ProxyOptions(FormatOptions):
    host: str | None = setting(None, proxy_host)
    port: int = setting(3128, int_between(1, 65535))
    # Empty: the profile's hosts for the cloud (see the module docstring).
    domains: tuple[str, ...] = setting((), proxy_domains)
    clients: tuple[str, ...] = setting((), address_list)
    certificate_hosts: bool = setting(True, _flag)
    # Set from the config's `profile:`, `workspace:` and `usgov_offering:` unless given here.
    profile: str = setting(DEFAULT_PROFILE, one_of(*PROFILES))
    workspace: str | None = setting(None, _workspace)
    usgov_offering: str | None = setting(None, one_of(*USGOV_OFFERINGS))


@dataclass(frozen=True, slots=True)
class ProxyView:
    """Validated values only (see ProxyOptions and the profile table)."""

    # TLS destinations (CONNECT to 443), Squid dstdomain syntax: ".name" = name and its
    # subdomains, a name without the dot is that host only.
    domains: tuple[str, ...]
    clients: tuple[str, ...]  # canonical CIDRs allowed to use the rules; empty = any client
    host: str | None
    port: int
    certificate_hosts: tuple[str, ...] = ()  # plain HTTP (port 80), whole host
    certificate_paths: tuple[str, ...] = ()  # plain HTTP (port 80), "host/path/" prefixes
    profile: str = DEFAULT_PROFILE
    sources: tuple[Doc, ...] = ()  # the pages the allowed names come from
    notes: tuple[str, ...] = ()  # one-line remarks for the comments (wider than documented...)

    @property
    def address(self) -> str:
        """``host:port`` for the PAC ``PROXY`` directive; a ConfigError when not configured."""
        if self.host is None:
            raise ConfigError(
                "the proxy format needs render.proxy.host (and port, default 3128) in the "
                "config file: the PAC file must name your proxy"
            )
        return f"{self.host}:{self.port}"

    @property
    def path_hosts(self) -> tuple[str, ...]:
        """The hosts of ``certificate_paths``, distinct, in order."""
        return tuple(dict.fromkeys(path.split("/", 1)[0] for path in self.certificate_paths))

    @property
    def path_regexes(self) -> tuple[str, ...]:
        """Squid ``url_regex`` patterns for ``certificate_paths``: the plain-HTTP URL must
        start with the host (optionally ``:80``) and the path prefix."""
        result = []
        for path in self.certificate_paths:
            host, _, rest = path.partition("/")
            result.append(f"^http://{host.replace('.', '[.]')}(:80)?/{rest}")
        return tuple(result)


def _cloud_name(file_cloud: str) -> str | None:
    from tagsync.clouds import CLOUDS

    for cloud in CLOUDS.values():
        if cloud.file_cloud.lower() == str(file_cloud).lower():
            return cloud.name
    return None


def proxy_view(options: ProxyOptions, file_cloud: str) -> ProxyView:
    """The allow-list for the file's cloud and the options' profile (a ConfigError when the
    documentation gives no host for them and ``render.proxy.domains`` is not set)."""
    profile = PROFILES[options.profile]
    cloud = _cloud_name(file_cloud)
    plan = profile.proxy_plan(cloud, options.usgov_offering) if cloud else None
    notes: list[str] = []
    sources: list[Doc] = []
    if options.domains:
        domains = options.domains
        notes.append("render.proxy.domains replaces the profile's hosts")
    elif plan is None:
        if cloud == "usgov" and options.usgov_offering is None:
            raise ConfigError(
                "the proxy format for the usgov cloud needs usgov_offering (gcc, gcc-high or "
                "dod) in the config file: their sensor hosts differ "
                f"({DOCS['mdi-usgov'].url})"
            )
        raise ConfigError(
            f"no proxy host is documented for profile {profile.name} in the "
            f"{cloud or file_cloud} cloud: set render.proxy.domains in the config file"
        )
    elif plan.workspace_suffix is not None and options.workspace is not None:
        domains = (f"{options.workspace}{plan.workspace_suffix}",)
        sources.append(plan.doc)
    else:
        domains = plan.domains
        sources.append(plan.doc)
        if plan.workspace_suffix is not None:
            notes.append(
                f"no workspace set: the whole {plan.domains[0]} domain is allowed; with "
                f"`workspace: NAME` only NAME{plan.workspace_suffix} is"
            )
    if options.workspace is not None and plan is not None and plan.workspace_suffix is None:
        notes.append(f"workspace is not used: sensor {profile.sensor} uses the domain above")
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    if options.certificate_hosts:
        hosts, paths = CERTIFICATE_HOSTS, CERTIFICATE_PATHS
        certificate_doc = plan.certificate_doc if plan is not None else DOCS["mdi-proxy"]
        sources.extend(d for d in (certificate_doc, DOCS["mdi-proxy"]) if d not in sources)
    return ProxyView(
        domains=domains,
        clients=options.clients,
        host=options.host,
        port=options.port,
        certificate_hosts=hosts,
        certificate_paths=paths,
        profile=profile.name,
        sources=tuple(sources),
        notes=tuple(notes),
    )


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(ProxyOptions)
    return {"proxy": lambda: proxy_view(options, selection.service_tags.cloud)}


FORMAT = Format(
    name="proxy",
    summary="Squid allow-list (CONNECT and ssl_bump splice) and a PAC file for the sensor's "
    "hosts and the certificate hosts",
    outputs=("proxy/squid.conf", "proxy/squid-sslbump.conf", "proxy/proxy.pac"),
    options=ProxyOptions,
    context=_context,
    needs=("host",),
    needs_reason="the PAC file must name your proxy (port defaults to 3128)",
    lists_prefixes=False,
    in_all=False,
)
