"""The proxy allow-list as template data: domains, allowed clients and the proxy address.

Microsoft's first option for the Defender for Identity sensor is a proxy instead of opened IP
ranges: allow ``*.atp.azure.com`` on 443 and never inspect that TLS. The Squid snippets need
only the domains; the PAC file also needs the proxy's address, which only the site knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.errors import ConfigError
from tagsync.formats.options import RenderOptions

__all__ = ["ProxyView", "proxy_view"]


@dataclass(frozen=True, slots=True)
class ProxyView:
    """Validated values only (see ``render.proxy`` in formats/options.py)."""

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


def proxy_view(options: RenderOptions) -> ProxyView:
    return ProxyView(
        options.proxy_domains, options.proxy_clients, options.proxy_host, options.proxy_port
    )
