"""Sensor v3.x needs two tags, MicrosoftDefenderForEndpoint and OneDsCollector ("the IP ranges
from both service tags are needed"): every firewall format rendered for profile mdi-v3 on the
real Public and US Gov files must allow exactly their union, no address more or less.

The expected set is computed here from the JSON with stdlib ipaddress; the allowed set is read
back from each rendered text with the strict parsers of that format's own tests.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from conftest import shared_file

from tagsync.config import Config
from tagsync.model import parse_service_tags
from tagsync.profiles import apply_profile
from tagsync.render import render_formats, render_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FILES = {
    "public": "servicetags/public/ServiceTags_Public_20251006.json",
    "usgov": "servicetags/usgov/ServiceTags_AzureGovernment_20251020.json",
}
V3 = apply_profile(Config(), "mdi-v3")


def union_from_json(path: Path, names: Iterable[str]) -> set[Network]:
    document = json.loads(path.read_bytes())
    wanted = set(names)
    found = [v for v in document["values"] if v["name"] in wanted]
    assert {v["name"] for v in found} == wanted
    return {ipaddress.ip_network(p) for v in found for p in v["properties"]["addressPrefixes"]}


def coverage(networks: Iterable[Network]) -> tuple[list[Network], list[Network]]:
    """The addresses covered, per family, as the shortest list of networks."""
    items = list(networks)
    v4 = [n for n in items if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in items if isinstance(n, ipaddress.IPv6Network)]
    return list(ipaddress.collapse_addresses(v4)), list(ipaddress.collapse_addresses(v6))


def nets(texts: Iterable[str]) -> set[Network]:
    return {ipaddress.ip_network(t) for t in texts}


# --- per format: the networks the rendered text allows --------------------------------------
def ipset_allowed(files: dict[str, str]) -> set[Network]:
    """ipset.restore fills <set>-tmp and swaps it in; the rules match the two sets."""
    members: dict[str, set[str]] = {}
    for line in files["iptables/ipset.restore"].splitlines():
        if m := re.fullmatch(r"add (\S+)-tmp (\S+)", line):
            members.setdefault(m[1], set()).add(m[2])
    used = set()
    for name in ("iptables/iptables.rules", "iptables/ip6tables.rules"):
        used |= set(re.findall(r"--match-set (\S+) dst .*--dport 443 -j ACCEPT", files[name]))
    assert sorted(used) == sorted(members), "one set per family, each matched by a rule"
    return nets(p for name in used for p in members[name])


def nft_allowed(files: dict[str, str]) -> set[Network]:
    text = files["nftables/tagsync.nft"]
    sets = {
        m[1]: nets(e.strip() for e in m[2].split(",") if e.strip())
        for m in re.finditer(r"add element inet \S+ (\S+) \{\n(.*?)\n\}", text, re.S)
    }
    used = set(re.findall(r"daddr @(\S+) tcp dport 443 accept", text))
    assert sorted(used) == sorted(sets), "one set per family, each matched by a rule"
    return {n for name in used for n in sets[name]}


def paloalto_allowed(files: dict[str, str]) -> set[Network]:
    from test_render_paloalto import check_full

    config = check_full(files["paloalto/set-commands.txt"], 2500)
    return nets(config.prefixes(config.rules["tagsync-https"]["destination"]))


def edl_allowed(files: dict[str, str]) -> set[Network]:
    return nets(line.split(" # ")[0] for line in files["paloalto/edl.txt"].splitlines())


def windows_allowed(files: dict[str, str]) -> set[Network]:
    from test_render_windows import check_rules, parse_script

    group, rules = parse_script(files["windows/rules.ps1"])
    return nets(check_rules(rules, group, 1000))


def fortigate_allowed(files: dict[str, str]) -> set[Network]:
    from test_render_fortigate import allowed, check_full

    return nets(allowed(check_full(files, 600)))


def ciscoasa_allowed(files: dict[str, str]) -> set[Network]:
    from test_render_ciscoasa import read_config

    return {n for group in read_config(files["ciscoasa/config.txt"]).values() for n in nets(group)}


def junipersrx_allowed(files: dict[str, str]) -> set[Network]:
    from test_render_junipersrx import read_full

    return nets(read_full(files["junipersrx/set-commands.txt"]).allowed())


READERS: dict[str, tuple[str, Callable[[dict[str, str]], set[Network]], bool]] = {
    # name: (format, reader, lists every published prefix as written)
    "iptables": ("iptables", ipset_allowed, True),
    "nftables": ("nftables", nft_allowed, False),  # interval sets: merged networks
    "paloalto": ("paloalto", paloalto_allowed, True),
    "paloalto-edl": ("paloalto", edl_allowed, True),
    "windows": ("windows", windows_allowed, True),
    "fortigate": ("fortigate", fortigate_allowed, True),
    "ciscoasa": ("ciscoasa", ciscoasa_allowed, True),
    "junipersrx": ("junipersrx", junipersrx_allowed, True),
}


@pytest.mark.parametrize("cloud", sorted(FILES))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_v3_allows_exactly_the_union_of_both_tags(cloud: str, reader: str) -> None:
    path = shared_file(FILES[cloud])
    st = parse_service_tags(path.read_bytes(), source=str(path))
    fmt, read, verbatim = READERS[reader]
    settings = render_settings(V3.section("render"))
    files = render_formats(st, list(V3.tags), [fmt], settings=settings)
    want = union_from_json(path, ["MicrosoftDefenderForEndpoint", "OneDsCollector"])
    got = read(files)
    assert coverage(got) == coverage(want)
    if verbatim:
        assert got == want


def test_the_two_tags_are_different_and_both_needed() -> None:
    """The union is a real union on these files: neither tag covers the other."""
    for relative in FILES.values():
        path = shared_file(relative)
        one = union_from_json(path, ["MicrosoftDefenderForEndpoint"])
        two = union_from_json(path, ["OneDsCollector"])
        assert coverage(one) != coverage(one | two) != coverage(two)
