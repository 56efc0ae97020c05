"""Probe addresses for a service tag, computed from the published JSON with stdlib ``ipaddress``
only (independently of tagsync's parser, merger and renderers).

Inside: each sampled prefix's first (network) and last (broadcast) address and a random one.
Outside: the addresses just before and just after each sampled prefix (unless another prefix
of the tag holds them) and random global unicast addresses that no prefix holds.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TagAddresses", "tag_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def tag_networks(path: Path, tag: str) -> list[Network]:
    document = json.loads(path.read_bytes())
    prefixes = next(v for v in document["values"] if v["name"] == tag)["properties"][
        "addressPrefixes"
    ]
    return sorted({ipaddress.ip_network(p) for p in prefixes}, key=lambda n: (n.version, n))


@dataclass
class TagAddresses:
    """Addresses in and around one version of a tag."""

    networks: list[Network]

    @classmethod
    def of(cls, path: Path, tag: str) -> TagAddresses:
        return cls(tag_networks(path, tag))

    def holds(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in n for n in self.networks if n.version == ip.version)

    def _sample(self, rng: random.Random, per_family: int) -> list[Network]:
        chosen: list[Network] = []
        for version in (4, 6):
            family = [n for n in self.networks if n.version == version]
            chosen += rng.sample(family, min(per_family, len(family)))
        return chosen

    def inside(self, rng: random.Random, per_family: int = 30) -> list[str]:
        addresses: list[Address] = []
        for network in self._sample(rng, per_family):
            first, last = int(network.network_address), int(network.broadcast_address)
            addresses += [
                network.network_address,
                network.broadcast_address,
                ipaddress.ip_address(rng.randint(first, last)),
            ]
        return sorted({str(a) for a in addresses})

    def outside(
        self, rng: random.Random, per_family: int = 30, random_count: int = 30
    ) -> list[str]:
        candidates: list[Address] = []
        for network in self._sample(rng, per_family):
            candidates += [network.network_address - 1, network.broadcast_address + 1]
        for low, high in ((1 << 24, 0xDFFFFFFF), (0x2 << 124, (0x4 << 124) - 1)):
            found = 0
            while found < random_count:
                address = ipaddress.ip_address(rng.randint(low, high))
                if address.is_global and not self.holds(str(address)):
                    candidates.append(address)
                    found += 1
        # Only global unicast addresses: never one of the test topology's own link addresses.
        return sorted({str(a) for a in candidates if a.is_global and not self.holds(str(a))})
