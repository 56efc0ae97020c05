"""The proxy allow-list: Squid snippets and a PAC file, as Microsoft's first option for the
Defender for Identity sensor is a proxy instead of opened IP ranges: allow ``*.atp.azure.com``
on 443 and never inspect that TLS. The Squid snippets need only the domains; the PAC file also
needs the proxy's address, which only the site knows.
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
from tagsync.profiles import DEFAULT_PROFILE, PROFILES, USGOV_OFFERINGS

__all__ = ["DEFAULT_PROXY_DOMAINS", "FORMAT", "ProxyOptions", "ProxyView"]

DEFAULT_PROXY_DOMAINS = (".atp.azure.com",)  # the Defender for Identity sensor's service


def _workspace(value: object, where: str) -> str:
    from tagsync.config import check_workspace

    checked = check_workspace(value, where)
    assert checked is not None  # None values are not checked
    return checked


@dataclass(frozen=True, slots=True)
class ProxyOptions(FormatOptions):
    host: str | None = setting(None, proxy_host)
    port: int = setting(3128, int_between(1, 65535))
    domains: tuple[str, ...] = setting(DEFAULT_PROXY_DOMAINS, proxy_domains)
    clients: tuple[str, ...] = setting((), address_list)
    # Set from the config's `profile:`, `workspace:` and `usgov_offering:` unless given here.
    profile: str = setting(DEFAULT_PROFILE, one_of(*PROFILES))
    workspace: str | None = setting(None, _workspace)
    usgov_offering: str | None = setting(None, one_of(*USGOV_OFFERINGS))


@dataclass(frozen=True, slots=True)
class ProxyView:
    """Validated values only (see ProxyOptions)."""

    domains: tuple[str, ...]  # Squid dstdomain syntax: ".name" = name and its subdomains
    clients: tuple[str, ...]  # canonical CIDRs allowed to use the rule; empty = any client
    host: str | None
    port: int

    @property
    def address(self) -> str:
        """``host:port`` for the PAC ``PROXY`` directive; a ConfigError when not configured."""
        if self.host is None:
            raise ConfigError(
                "the proxy format needs render.proxy.host (and port, default 3128) in the "
                "config file: the PAC file must name your proxy"
            )
        return f"{self.host}:{self.port}"


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(ProxyOptions)
    return {
        "proxy": lambda: ProxyView(options.domains, options.clients, options.host, options.port)
    }


FORMAT = Format(
    name="proxy",
    summary="Squid allow-list (CONNECT and ssl_bump splice) and a PAC file for the sensor's "
    "domains",
    outputs=("proxy/squid.conf", "proxy/squid-sslbump.conf", "proxy/proxy.pac"),
    options=ProxyOptions,
    context=_context,
    needs=("host",),
    needs_reason="the PAC file must name your proxy (port defaults to 3128)",
    lists_prefixes=False,
    in_all=False,
)
