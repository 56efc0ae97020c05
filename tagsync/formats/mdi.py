"""The Microsoft Defender for Identity sensor port profile, as data the templates render.

Ports and directions follow Microsoft's sensor prerequisites (Defender for Identity
"required ports" table): SSL TCP 443 to the cloud service, DNS TCP/UDP 53 to the DNS servers,
Netlogon TCP/UDP 445 to all devices, RADIUS UDP 1813 from the RADIUS servers to the sensor,
TCP 444 on localhost (sensor service to sensor updater), and for Network Name Resolution
(NNR) NTLM over RPC TCP 135, NetBIOS UDP 137 and RDP TCP 3389 to all devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.errors import ConfigError
from tagsync.formats.options import MdiGroups
from tagsync.formats.paloalto import group_names, object_name
from tagsync.prefixes import aggregate

__all__ = ["PROFILE", "PortRule", "mdi_context"]


@dataclass(frozen=True, slots=True)
class PortRule:
    key: str  # short id used in rule names: letters, digits and "-"
    label: str
    protocol: str  # "tcp" or "udp"
    port: int
    direction: str  # "out" from the sensor, "in" to the sensor, "local" on loopback
    peer: str  # "cloud", "localhost" or an MdiGroups field name


PROFILE: tuple[PortRule, ...] = (
    PortRule("ssl", "SSL to the Defender for Identity cloud service", "tcp", 443, "out", "cloud"),
    PortRule("dns-tcp", "DNS to DNS servers", "tcp", 53, "out", "dns_servers"),
    PortRule("dns-udp", "DNS to DNS servers", "udp", 53, "out", "dns_servers"),
    PortRule("netlogon-tcp", "Netlogon to all devices", "tcp", 445, "out", "device_subnets"),
    PortRule("netlogon-udp", "Netlogon to all devices", "udp", 445, "out", "device_subnets"),
    PortRule("radius", "RADIUS from RADIUS servers", "udp", 1813, "in", "radius_servers"),
    PortRule("localhost", "Sensor service to sensor updater", "tcp", 444, "local", "localhost"),
    PortRule("nnr-rpc", "NNR: NTLM over RPC to all devices", "tcp", 135, "out", "device_subnets"),
    PortRule("nnr-netbios", "NNR: NetBIOS to all devices", "udp", 137, "out", "device_subnets"),
    PortRule(
        "nnr-rdp", "NNR: RDP client hello to all devices", "tcp", 3389, "out", "device_subnets"
    ),
)

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
    peers: dict[str, dict[str, list[str]]], group: str, chunk: int
) -> list[dict[str, Any]]:
    rules = []
    for rule in PROFILE:
        if rule.peer == "cloud":
            continue  # rendered from the tag's prefixes, like the windows format
        if rule.peer == "localhost":
            addresses = ["127.0.0.1", "::1"]
        else:
            addresses = peers[rule.peer]["v4"] + peers[rule.peer]["v6"]
        parts = [addresses[i : i + chunk] for i in range(0, len(addresses), chunk)]
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
    groups: MdiGroups | None,
    name_prefix: str,
    limit: int,
    windows_group: str,
    windows_chunk: int,
) -> dict[str, Any]:
    """Template data for the sensor profile; a missing site group is a ConfigError."""
    if groups is None:
        raise ConfigError(
            "mdi-sensor needs the address groups render.mdi_sensor.dns_servers, "
            "radius_servers, device_subnets and sensors in the config file"
        )
    by_key = {rule.key: rule for rule in PROFILE}
    peers = {name: _split(getattr(groups, name)) for name in _GROUP_LABELS}
    panos_groups: dict[str, list[tuple[str, list[str]]]] = {}
    panos_objects: dict[str, str] = {}
    for name, label in _GROUP_LABELS.items():
        members = [object_name(p, name_prefix) for p in getattr(groups, name)]
        for member, prefix in zip(members, getattr(groups, name), strict=True):
            panos_objects.setdefault(member, prefix)
        chunks = [members[i : i + limit] for i in range(0, len(members), limit)]
        names = group_names(label, name_prefix, len(chunks))
        panos_groups[name] = list(zip(names, chunks, strict=True))
    services = {
        rule.key: f"{name_prefix}{rule.protocol}-{rule.port}"
        for rule in PROFILE
        if rule.peer not in ("cloud", "localhost")
    }
    panos_rules = [
        {
            "name": f"{name_prefix}mdi-{key}",
            "sources": [g for g, _ in panos_groups[source]],
            "destinations": [g for g, _ in panos_groups[destination]],
            "services": sorted({services[k] for k in keys}),
        }
        for key, source, destination, keys in _PANOS_RULES
    ]
    merged = {
        name: {family: aggregate(items) if items else [] for family, items in split.items()}
        for name, split in peers.items()
    }
    return {
        "rules": PROFILE,
        "peers_merged": merged,
        "windows_rules": _windows_rules(peers, windows_group, windows_chunk),
        "by_key": by_key,
        "peers": peers,
        "panos_objects": panos_objects,
        "panos_groups": panos_groups,
        "panos_services": sorted(
            {(services[r.key], r.protocol, r.port) for r in PROFILE if r.key in services}
        ),
        "panos_rules": panos_rules,
        "panos_ssl_rule": f"{name_prefix}mdi-ssl",
    }
