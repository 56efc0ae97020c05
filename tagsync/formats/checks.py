"""Validators for render settings: each turns a raw YAML value into a checked, typed value.

Every setting ends up inside generated firewall text, so each is checked against the syntax of
the place it lands (chain, set, object names) and a bad value is a ConfigError, never escaped
into something the admin did not write. A validator takes ``(value, where)``, where ``where``
names the setting in messages (``render.iptables.chain``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from tagsync.errors import ConfigError
from tagsync.formats.quoting import check_name, printable
from tagsync.prefixes import InvalidPrefix, canonical_prefix, sort_prefixes

__all__ = [
    "Check",
    "address_list",
    "communities",
    "int_between",
    "label",
    "matching",
    "one_of",
    "own_name",
    "proxy_domains",
    "proxy_host",
]

Check = Callable[[Any, str], Any]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A DNS host name (letters, digits, "-" and dots only: nothing a PAC string or Squid line
# could take as syntax), and a Squid dstdomain value: ".example.com" means the domain and
# every subdomain. Both are matched in lower case.
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
PROXY_DOMAIN = re.compile(rf"\.?(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+")
COMMUNITY = re.compile(r"\d{1,5}:\d{1,5}")


def matching(pattern: re.Pattern[str]) -> Check:
    """A string that fully matches ``pattern`` (names of chains, sets, objects)."""

    def convert(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return check_name(value, pattern, where, ConfigError)

    return convert


def own_name(pattern: re.Pattern[str], reserved: frozenset[str], kind: str) -> Check:
    """A name for something tagsync owns (its chain): it matches ``pattern`` and is none of
    ``reserved`` (in any case), the names of things the admin or the kernel owns, such as the
    built-in chains. Putting tagsync's rules and its final RETURN into INPUT would rewrite the
    admin's own chain."""
    match = matching(pattern)

    def convert(value: Any, where: str) -> str:
        text: str = match(value, where)
        if text.upper() in reserved:
            raise ConfigError(
                f"{where}: {text!r} is a {kind}; tagsync's rules need a chain of their own "
                "(keep the default or pick a new name)"
            )
        return text

    return convert


def one_of(*choices: str) -> Check:
    """One of a few fixed words (``hook: output``), matched in lower case."""

    def convert(value: Any, where: str) -> str:
        text = value.lower() if isinstance(value, str) else ""
        if text not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(choices)}, not {value!r:.40}")
        return text

    return convert


def label(value: Any, where: str) -> str:
    """Free text of 1 to 100 printable ASCII characters (quoted by the template's filter)."""
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise ConfigError(f"{where} must be a string of 1 to 100 characters")
    return printable(value, where, ConfigError)


def int_between(low: int, high: int) -> Check:
    def convert(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where} must be a whole number from {low} to {high}")
        return value

    return convert


def communities(value: Any, where: str) -> tuple[str, ...]:
    """BGP communities like 12076:5220 (one or a list)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{where} must be a non-empty list of BGP communities like 12076:5220")
    return tuple(check_name(str(item), COMMUNITY, where, ConfigError) for item in items)


def proxy_host(value: Any, where: str) -> str:
    """A proxy host name or IP address; IPv6 comes back in brackets, as PAC syntax wants."""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a host name or IP address")
    text = printable(value, where, ConfigError).lower()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ":" in bare:
        try:
            return f"[{ipaddress.IPv6Address(bare).compressed}]"
        except ValueError:
            raise ConfigError(f"{where}: {value!r:.60} is not an IPv6 address") from None
    return check_name(text, HOST_NAME, where, ConfigError)


def proxy_domains(value: Any, where: str) -> tuple[str, ...]:
    """Domain names for the allow-list (".name" = name and subdomains), distinct and sorted."""
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list | tuple)
        or not items
        or not all(isinstance(i, str) for i in items)
    ):
        raise ConfigError(f"{where} must be a non-empty list of domain names like .atp.azure.com")
    domains = sorted({check_name(i.lower(), PROXY_DOMAIN, where, ConfigError) for i in items})
    for domain in domains:
        # Squid refuses a list where one entry already covers another.
        covering = [d for d in domains if d != domain and d.startswith(".")
                    and (domain.endswith(d) or domain == d[1:])]  # fmt: skip
        if covering:
            raise ConfigError(f"{where}: {domain} is already covered by {covering[0]}")
    return tuple(domains)


def _range_or_glob(text: str, where: str) -> list[str]:
    """CIDRs exactly covering an address range ``A-B`` or an IPv4 glob ``10.0.*.*``: the forms
    admins keep DNS servers and device subnets in, which every firewall syntax here lacks."""
    import netaddr

    try:
        if "*" in text:
            networks = netaddr.IPGlob(text).cidrs()
        else:
            first, _, last = text.partition("-")
            networks = netaddr.IPRange(first.strip(), last.strip()).cidrs()
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ConfigError(f"{where}: {text!r:.60} is not an address range or glob") from None
    return [str(network) for network in networks]


def address_list(value: Any, where: str) -> tuple[str, ...]:
    """A non-empty list of IP addresses, CIDR networks, ranges (``A-B``) or IPv4 globs, as
    canonical, sorted CIDR prefixes."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{where} must be a non-empty list of IP addresses or networks")
    result = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: {item!r:.40} is not an address")
        text = item.strip()
        if ("-" in text or "*" in text) and "/" not in text:
            result.extend(_range_or_glob(text, where))
            continue
        if "/" not in text:
            text += "/128" if ":" in text else "/32"
        try:
            result.append(canonical_prefix(text))
        except InvalidPrefix as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return tuple(sort_prefixes(result))
