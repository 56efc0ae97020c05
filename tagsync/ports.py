"""The sensor port profiles, per connectivity profile, with the page each comes from.

* ``mdi-v2``: the "Required ports" table of the sensor v2.x prerequisites (defender-docs
  ``defender-for-identity/deploy/prerequisites-sensor-version-2.md``): SSL TCP 443 to the
  cloud service, DNS TCP/UDP 53 to the DNS servers, Netlogon TCP/UDP 445 to all devices,
  RADIUS UDP 1813 from the RADIUS servers to the sensor, TCP 444 on localhost (sensor service
  to sensor updater), and for Network Name Resolution (NNR) NTLM over RPC TCP 135, NetBIOS
  UDP 137 and RDP TCP 3389 to all devices ("only one port is required").
* ``mdi-v3``: the sensor v3.x prerequisites (``prerequisites-sensor-version-3.md``) list no
  ports: "The Defender for Identity sensor utilizes the same URIs as Microsoft Defender for
  Endpoint". Defender for Endpoint's streamlined connectivity page gives TCP 443 to
  ``*.endpoint.security.microsoft.com``, whose addresses are the tags MicrosoftDefenderForEndpoint
  and OneDsCollector, and port 80 for the certificate validation hosts (names, not tag
  addresses: the proxy format carries those). Nothing else is documented, so nothing else is
  listed.

Plain data on the CLI path (``tagsync doctor`` reads it without the render engine).
"""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.profiles import DOCS, Doc

__all__ = ["PORTS", "PortProfile", "PortRule"]


@dataclass(frozen=True, slots=True)
class PortRule:
    key: str  # short id used in rule names: letters, digits and "-"
    label: str
    protocol: str  # "tcp" or "udp"
    port: int
    direction: str  # "out" from the sensor, "in" to the sensor, "local" on loopback
    peer: str  # "cloud", "localhost" or an address group of render.mdi-sensor


@dataclass(frozen=True, slots=True)
class PortProfile:
    rules: tuple[PortRule, ...]
    doc: Doc
    notes: tuple[str, ...]  # what the page says beyond the table, for ports.md and doctor


_V2 = (
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
_V3 = (
    PortRule(
        "ssl",
        "HTTPS to Defender for Endpoint's streamlined services",
        "tcp",
        443,
        "out",
        "cloud",
    ),
)

PORTS: dict[str, PortProfile] = {
    "mdi-v2": PortProfile(
        _V2,
        DOCS["mdi-v2-prerequisites"],
        ("NNR (Network Name Resolution) needs only one of TCP 135, UDP 137 and TCP 3389.",),
    ),
    "mdi-v3": PortProfile(
        _V3,
        DOCS["mdi-v3-prerequisites"],
        (
            'The sensor v3.x prerequisites list no ports: the sensor "utilizes the same URIs '
            "as Microsoft Defender for Endpoint\". Defender for Endpoint's streamlined "
            "connectivity page gives TCP 443 for *.endpoint.security.microsoft.com (the tags "
            "MicrosoftDefenderForEndpoint and OneDsCollector) and port 80 for the certificate "
            "validation hosts (see the proxy format). No internal port is documented for "
            "v3.x, so none is listed; the DNS, RADIUS and device address groups are not used.",
        ),
    ),
}
