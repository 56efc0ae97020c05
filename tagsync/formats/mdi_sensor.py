"""The Microsoft Defender for Identity sensor port profile, rendered for every firewall kind.

Ports and directions come from the profile's port table (``tagsync/ports.py``, which names
the pages): for sensor v2.x the "Required ports" table of the v2.x prerequisites (SSL TCP 443
to the cloud service, DNS, Netlogon, RADIUS, localhost TCP 444 and the NNR ports); for sensor
v3.x only TCP 443 to Defender for Endpoint's tags, as its prerequisites list no ports. The
address groups needed follow the profile (``Format.profile_needs``): v2.x needs all four, v3.x
only ``sensors`` (the source of its one rule); groups a profile does not use may stay unset.

The sensor runs on Windows (domain controllers, AD FS, AD CS), whose Windows Firewall is
stateful. So the Linux forms (iptables, ip6tables, nftables) are a *gateway* profile: rules
for a Linux router in front of the sensors, in the FORWARD path, matching the sensors as
source (or destination for RADIUS), with an ``ESTABLISHED,RELATED`` accept for the replies
to the sensors' own connections. Localhost TCP 444 never crosses a gateway and is left to the
Windows rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.errors import ConfigError
from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import address_list, label, matching, one_of, own_name
from tagsync.formats.iptables import IptablesOptions, ipsets, own_chain_name
from tagsync.formats.nftables import BASE_CHAIN_NAMES, NFT_NAME
from tagsync.formats.paloalto import PaloAltoOptions, group_names, object_name, panos_layout
from tagsync.formats.settings import RenderSettings
from tagsync.formats.windows import WindowsOptions, chunks, windows_rules
from tagsync.ports import PORTS, PortRule
from tagsync.prefixes import aggregate
from tagsync.profiles import DEFAULT_PROFILE, PROFILES

__all__ = ["FORMAT", "PROFILE", "MdiSensorOptions", "PortRule", "mdi_context", "needed_groups"]

GROUPS = ("dns_servers", "radius_servers", "device_subnets", "sensors")
# nft names are at most 32 characters here; the chain's sets add "_v4"/"_v6".
_NFT_CHAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,28}")


def needed_groups(profile: str) -> tuple[str, ...]:
    """The address groups a profile's port table uses: the sensors (every rule's own end)
    and each group a rule names as its peer, in GROUPS order."""
    peers = {rule.peer for rule in PORTS[profile].rules} | {"sensors"}
    return tuple(name for name in GROUPS if name in peers)


@dataclass(frozen=True, slots=True)
class MdiSensorOptions(FormatOptions):
    """Chain, table and group names, and the site's address groups (canonical CIDRs)."""

    together = GROUPS

    @classmethod
    def together_for(cls, values: Mapping[str, Any]) -> tuple[str, ...]:
        # Only the groups the profile uses go together (v3.x: the sensors alone).
        profile = values.get("profile", DEFAULT_PROFILE)
        return needed_groups(profile) if profile in PORTS else GROUPS

    # Gateway chains, both jumped to from FORWARD: from the sensors, and to them.
    chain_out: str = setting("TAGSYNC-MDI-OUT", own_chain_name())
    chain_in: str = setting("TAGSYNC-MDI-IN", own_chain_name())
    # nftables: the table (tagsync's own or the admin's, e.g. filter) and tagsync's chain
    # in it; its sets are named after the chain (<chain>_v4, <chain>_v6).
    nft_table: str = setting("tagsync_mdi", matching(NFT_NAME))
    nft_chain: str = setting(
        "tagsync_mdi", own_name(_NFT_CHAIN, BASE_CHAIN_NAMES, "base chain name")
    )
    windows_group: str = setting("tagsync MDI sensor", label)
    dns_servers: tuple[str, ...] = setting((), address_list)
    radius_servers: tuple[str, ...] = setting((), address_list)
    device_subnets: tuple[str, ...] = setting((), address_list)
    sensors: tuple[str, ...] = setting((), address_list)
    # Set from the config's `profile:` (profiles.apply_profile) unless given here.
    profile: str = setting(DEFAULT_PROFILE, one_of(*PROFILES))


# The v2.x table, as before profiles (tagsync/ports.py has both profiles).
PROFILE: tuple[PortRule, ...] = PORTS["mdi-v2"].rules


# PAN-OS rules: one per peer group, with the custom services for its ports.
_PANOS_RULES = (
    ("dns", "sensors", "dns_servers", ("dns-tcp", "dns-udp")),
    (
        "devices",
        "sensors",
        "device_subnets",
        ("netlogon-tcp", "netlogon-udp", "nnr-rpc", "nnr-netbios", "nnr-rdp"),
    ),
    ("radius", "radius_servers", "sensors", ("radius",)),
)
_GROUP_LABELS = {
    "dns_servers": "MDI-DNS",
    "radius_servers": "MDI-RADIUS",
    "device_subnets": "MDI-Devices",
    "sensors": "MDI-Sensors",
}


def _split(prefixes: Sequence[str]) -> dict[str, list[str]]:
    return {
        "v4": [p for p in prefixes if ":" not in p],
        "v6": [p for p in prefixes if ":" in p],
    }


def _windows_rules(
    rules_in: Sequence[PortRule], peers: dict[str, dict[str, list[str]]], group: str, chunk: int
) -> list[dict[str, Any]]:
    rules = []
    for rule in rules_in:
        if rule.peer == "cloud":
            continue  # rendered from the tag's prefixes, like the windows format
        if rule.peer == "localhost":
            addresses = ["127.0.0.1", "::1"]
        else:
            addresses = peers[rule.peer]["v4"] + peers[rule.peer]["v6"]
        parts = chunks(addresses, chunk)
        for index, part in enumerate(parts, start=1):
            rules.append(
                {
                    "name": f"{group}-{rule.key}-{index:03d}",
                    "display": f"{group}: {rule.label} ({index} of {len(parts)})",
                    "direction": "Outbound" if rule.direction == "out" else "Inbound",
                    "protocol": rule.protocol.upper(),
                    "port_kind": "RemotePort" if rule.direction == "out" else "LocalPort",
                    "port": rule.port,
                    "addresses": part,
                }
            )
    return rules


def mdi_context(
    groups: MdiSensorOptions, name_prefix: str, limit: int, windows_chunk: int
) -> dict[str, Any]:
    """Template data for the sensor profile; the address groups its profile uses must be set."""
    needed = needed_groups(groups.profile)
    if not all(getattr(groups, name) for name in needed):
        # The engine checks FORMAT.needs first; this is for user templates reading `mdi`.
        raise ConfigError(
            f"the sensor profile needs {', '.join(f'render.mdi-sensor.{g}' for g in needed)} "
            f"in the config file (profile {groups.profile})"
        )
    ports = PORTS[groups.profile]
    profile = ports.rules
    by_key = {rule.key: rule for rule in profile}
    peers = {name: _split(getattr(groups, name)) for name in _GROUP_LABELS}
    panos_groups: dict[str, list[tuple[str, list[str]]]] = {}
    panos_objects: dict[str, str] = {}
    for name, group_label in _GROUP_LABELS.items():
        if name not in needed:
            continue  # no rule of this profile uses it: no objects for it either
        members = [object_name(p, name_prefix) for p in getattr(groups, name)]
        for member, prefix in zip(members, getattr(groups, name), strict=True):
            panos_objects.setdefault(member, prefix)
        chunks = [members[i : i + limit] for i in range(0, len(members), limit)]
        names = group_names(group_label, name_prefix, len(chunks))
        panos_groups[name] = list(zip(names, chunks, strict=True))
    services = {
        rule.key: f"{name_prefix}{rule.protocol}-{rule.port}"
        for rule in profile
        if rule.peer not in ("cloud", "localhost")
    }
    panos_rules = [
        {
            "name": f"{name_prefix}mdi-{key}",
            "sources": [g for g, _ in panos_groups[source]],
            "destinations": [g for g, _ in panos_groups[destination]],
            "services": sorted({services[k] for k in keys if k in services}),
        }
        for key, source, destination, keys in _PANOS_RULES
        if any(k in services for k in keys)  # the profile has ports for this peer group
    ]
    merged = {
        name: {family: aggregate(items) if items else [] for family, items in split.items()}
        for name, split in peers.items()
    }
    return {
        "rules": profile,
        "notes": ports.notes,
        "doc": ports.doc,
        "profile": groups.profile,
        "peers_merged": merged,
        "windows_rules": _windows_rules(profile, peers, groups.windows_group, windows_chunk),
        "by_key": by_key,
        "peers": peers,
        "panos_objects": panos_objects,
        "panos_groups": panos_groups,
        "panos_services": sorted(
            {(services[r.key], r.protocol, r.port) for r in profile if r.key in services}
        ),
        "panos_rules": panos_rules,
        "panos_ssl_rule": f"{name_prefix}mdi-ssl",
    }


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(MdiSensorOptions)
    panos = settings.get(PaloAltoOptions)
    chunk = settings.get(WindowsOptions).chunk_size
    return {
        "mdi": lambda: mdi_context(options, panos.name_prefix, panos.group_member_limit, chunk),
        "mdi_windows": lambda: windows_rules(selection.tags, options.windows_group, chunk),
        # The cloud rule matches the iptables format's sets (same names, same contents).
        "ipsets": lambda: ipsets(selection, settings.get(IptablesOptions)),
        "panos": lambda: panos_layout(selection.tags, panos),
    }


FORMAT = Format(
    name="mdi-sensor",
    summary="Defender for Identity sensor port profile: iptables, nftables, PAN-OS, Windows, "
    "ports table",
    outputs=(
        "mdi-sensor/ipset.restore",
        "mdi-sensor/iptables.rules",
        "mdi-sensor/ip6tables.rules",
        "mdi-sensor/nftables.nft",
        "mdi-sensor/paloalto-set-commands.txt",
        "mdi-sensor/windows-rules.ps1",
        "mdi-sensor/ports.md",
    ),
    options=MdiSensorOptions,
    context=_context,
    needs=GROUPS,
    needs_reason="the site's address groups",
    profile_needs={profile: needed_groups(profile) for profile in PORTS},
    in_all=False,
)
