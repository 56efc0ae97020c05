"""The ``render`` section of the YAML config: typed knobs with defaults, strictly validated.

Every knob ends up inside generated firewall text, so each is checked against the syntax of
the place it lands (chain, set, object names) and a bad value is a ConfigError, never escaped
into something the admin did not write.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from tagsync.errors import ConfigError
from tagsync.formats.quoting import check_name, printable
from tagsync.prefixes import InvalidPrefix, canonical_prefix, sort_prefixes

__all__ = ["MdiGroups", "RenderOptions", "render_options"]

# iptables chain names: at most 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL).
CHAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,27}")
# ipset names: at most 31 characters; 4 are kept free for the "-tmp" swap set.
IPSET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,26}")
NFT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# PAN-OS names: at most 63 characters of letters, digits, "_" and "-". The prefix leaves room
# for "g-"/"n-" and the longest IPv6 prefix text (39 + "_128").
PANOS_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")
PANOS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
AZURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.()-]{0,79}")
COMMUNITY = re.compile(r"\d{1,5}:\d{1,5}")
MAX_WINDOWS_CHUNK = 1000  # the practical RemoteAddress limit per rule
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A DNS host name (letters, digits, "-" and dots only: nothing a PAC string or Squid line
# could take as syntax), and a Squid dstdomain value: ".example.com" means the domain and
# every subdomain. Both are matched in lower case.
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
PROXY_DOMAIN = re.compile(rf"\.?(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+")
DEFAULT_PROXY_DOMAINS = (".atp.azure.com",)  # the Defender for Identity sensor's service


@dataclass(frozen=True, slots=True)
class MdiGroups:
    """Site address groups for the Defender for Identity sensor profile (canonical CIDRs)."""

    dns_servers: tuple[str, ...]
    radius_servers: tuple[str, ...]
    device_subnets: tuple[str, ...]
    sensors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Every renderer knob; the defaults need no config file."""

    # iptables / ipset
    chain: str = "TAGSYNC-OUT"
    ipset_v4: str = "tagsync4"
    ipset_v6: str = "tagsync6"
    # nftables
    nft_table: str = "tagsync"
    nft_set_v4: str = "azure_v4"
    nft_set_v6: str = "azure_v6"
    # PAN-OS
    panos_prefix: str = "tagsync-"
    panos_group_limit: int = 2500
    panos_rule: str = "tagsync-https"
    panos_from_zone: str = "any"
    panos_to_zone: str = "any"
    panos_vsys: str = "vsys1"
    panos_device: str = "localhost.localdomain"
    # Windows Firewall
    windows_group: str = "tagsync"
    windows_chunk: int = MAX_WINDOWS_CHUNK
    # ExpressRoute notes
    er_resource_group: str = "MyResourceGroup"
    er_circuit: str = "MyCircuit"
    er_route_filter: str = "tagsync-mdi-filter"
    er_rule: str = "allow-mdi"
    er_location: str = "westeurope"
    er_communities: tuple[str, ...] = ("12076:5220",)
    # Defender for Identity sensor profile
    mdi_chain_out: str = "TAGSYNC-MDI-OUT"
    mdi_chain_in: str = "TAGSYNC-MDI-IN"
    mdi_nft_table: str = "tagsync_mdi"
    mdi_windows_group: str = "tagsync MDI sensor"
    mdi_groups: MdiGroups | None = None
    # Proxy allow-list (Squid snippets and PAC file); the PAC needs the proxy's address.
    proxy_host: str | None = None
    proxy_port: int = 3128
    proxy_domains: tuple[str, ...] = DEFAULT_PROXY_DOMAINS
    proxy_clients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_all(self)


def _text(pattern: re.Pattern[str]) -> Callable[[Any, str], str]:
    def convert(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return check_name(value, pattern, where, ConfigError)

    return convert


def _label(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise ConfigError(f"{where} must be a string of 1 to 100 characters")
    return printable(value, where, ConfigError)


def _int_between(low: int, high: int) -> Callable[[Any, str], int]:
    def convert(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where} must be a whole number from {low} to {high}")
        return value

    return convert


def _communities(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
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
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
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
    if not isinstance(items, list) or not items:
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


# YAML path (section, key) -> (RenderOptions field, converter).
_KNOBS: dict[str, dict[str, tuple[str, Callable[[Any, str], Any]]]] = {
    "iptables": {
        "chain": ("chain", _text(CHAIN_NAME)),
        "set_v4": ("ipset_v4", _text(IPSET_NAME)),
        "set_v6": ("ipset_v6", _text(IPSET_NAME)),
    },
    "nftables": {
        "table": ("nft_table", _text(NFT_NAME)),
        "set_v4": ("nft_set_v4", _text(NFT_NAME)),
        "set_v6": ("nft_set_v6", _text(NFT_NAME)),
    },
    "paloalto": {
        "name_prefix": ("panos_prefix", _text(PANOS_PREFIX)),
        "group_member_limit": ("panos_group_limit", _int_between(1, 10000)),
        "rule_name": ("panos_rule", _text(PANOS_NAME)),
        "from_zone": ("panos_from_zone", _text(PANOS_NAME)),
        "to_zone": ("panos_to_zone", _text(PANOS_NAME)),
        "vsys": ("panos_vsys", _text(PANOS_NAME)),
        "device": ("panos_device", _text(re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}"))),
    },
    "windows": {
        "group": ("windows_group", _label),
        "chunk_size": ("windows_chunk", _int_between(1, MAX_WINDOWS_CHUNK)),
    },
    "expressroute": {
        "resource_group": ("er_resource_group", _text(AZURE_NAME)),
        "circuit": ("er_circuit", _text(AZURE_NAME)),
        "route_filter": ("er_route_filter", _text(AZURE_NAME)),
        "rule_name": ("er_rule", _text(AZURE_NAME)),
        "location": ("er_location", _text(re.compile(r"[a-z0-9]{1,40}"))),
        "communities": ("er_communities", _communities),
    },
    "mdi_sensor": {
        "chain_out": ("mdi_chain_out", _text(CHAIN_NAME)),
        "chain_in": ("mdi_chain_in", _text(CHAIN_NAME)),
        "nft_table": ("mdi_nft_table", _text(NFT_NAME)),
        "windows_group": ("mdi_windows_group", _label),
    },
    "proxy": {
        "host": ("proxy_host", proxy_host),
        "port": ("proxy_port", _int_between(1, 65535)),
        "domains": ("proxy_domains", proxy_domains),
        "clients": ("proxy_clients", address_list),
    },
}
_MDI_GROUPS = ("dns_servers", "radius_servers", "device_subnets", "sensors")


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping")
    return raw


def render_options(section: object) -> RenderOptions:
    """Validate ``config.section("render")`` (None means all defaults)."""
    if section is None:
        return RenderOptions()
    raw = _mapping(section, "render")
    unknown = set(raw) - set(_KNOBS)
    if unknown:
        raise ConfigError(f"render: unknown keys {', '.join(sorted(map(str, unknown)))}")
    values: dict[str, Any] = {}
    groups: dict[str, tuple[str, ...]] = {}
    for name, knobs in _KNOBS.items():
        if raw.get(name) is None:
            continue
        body = _mapping(raw[name], f"render.{name}")
        allowed = set(knobs) | (set(_MDI_GROUPS) if name == "mdi_sensor" else set())
        extra = set(body) - allowed
        if extra:
            raise ConfigError(f"render.{name}: unknown keys {', '.join(sorted(map(str, extra)))}")
        for key, value in body.items():
            where = f"render.{name}.{key}"
            if key in knobs:
                field_name, convert = knobs[key]
                values[field_name] = convert(value, where)
            else:
                groups[key] = address_list(value, where)
    if groups:
        missing = [g for g in _MDI_GROUPS if g not in groups]
        if missing:
            raise ConfigError(f"render.mdi_sensor: missing address groups {', '.join(missing)}")
        values["mdi_groups"] = MdiGroups(**groups)
    return replace(RenderOptions(), **values)


def _check_all(options: RenderOptions) -> None:
    """Re-check knobs set in code (not only from YAML): the same rules apply."""
    by_field = {field: convert for knobs in _KNOBS.values() for field, convert in knobs.values()}
    for item in fields(options):
        convert = by_field.get(item.name)
        if convert is None:
            continue
        value = getattr(options, item.name)
        if value is None or value == ():
            continue  # optional knobs left unset
        convert(list(value) if isinstance(value, tuple) else value, f"render option {item.name}")
