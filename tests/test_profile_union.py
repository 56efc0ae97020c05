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
from typing import Any

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


# --- one group per family, each exactly that family's part of the union ---------------------
def paloalto_groups(files: dict[str, str]) -> dict[str, set[Network]]:
    from test_render_paloalto import check_full

    config = check_full(files["paloalto/set-commands.txt"], 2500)
    return {g: nets(config.prefixes({g})) for g in config.rules["tagsync-https"]["destination"]}


def ciscoasa_groups(files: dict[str, str]) -> dict[str, set[Network]]:
    from test_render_ciscoasa import read_config

    # read_config checks that the ACL names exactly these groups, one line each.
    return {g: nets(n) for g, n in read_config(files["ciscoasa/config.txt"]).items()}


def junipersrx_groups(files: dict[str, str]) -> dict[str, set[Network]]:
    from test_render_junipersrx import read_full

    srx = read_full(files["junipersrx/set-commands.txt"])
    (rule,) = srx.policies.values()
    return {g: nets(srx.networks(g)) for g in rule["match destination-address"]}


def fortigate_groups(files: dict[str, str]) -> dict[str, set[Network]]:
    from test_render_fortigate import FAMILIES, address_value, check_full

    config = check_full(files, 600)
    (policy,) = config.tables["firewall policy"].values()
    groups = {}
    for _, path, group_path, key in FAMILIES:
        for top in policy.get(key, []):
            members = config.members(group_path, top)
            groups[top] = nets(address_value(path, config.tables[path][m]) for m in members)
    return groups


def windows_groups(files: dict[str, str]) -> dict[str, set[Network]]:
    """Windows has no groups: one rule per family (chunks of 1000 would be numbered)."""
    from test_render_windows import check_rules, parse_script

    group, rules = parse_script(files["windows/rules.ps1"])
    check_rules(rules, group, 1000)
    return {rule["Name"]: nets(rule["RemoteAddress"]) for rule in rules}


GROUPED: dict[str, Callable[[dict[str, str]], dict[str, set[Network]]]] = {
    "paloalto": paloalto_groups,
    "ciscoasa": ciscoasa_groups,
    "junipersrx": junipersrx_groups,
    "fortigate": fortigate_groups,
    "windows": windows_groups,
}


@pytest.mark.parametrize("cloud", sorted(FILES))
@pytest.mark.parametrize("fmt", sorted(GROUPED))
def test_v3_rule_names_one_group_per_family_holding_the_union(cloud: str, fmt: str) -> None:
    path = shared_file(FILES[cloud])
    st = parse_service_tags(path.read_bytes(), source=str(path))
    settings = render_settings(V3.section("render"))
    files = render_formats(st, list(V3.tags), [fmt], settings=settings)
    want = union_from_json(path, ["MicrosoftDefenderForEndpoint", "OneDsCollector"])
    groups = GROUPED[fmt](files)
    by_family = {}
    for name, networks in groups.items():
        (version,) = {n.version for n in networks}  # one family per group
        assert version not in by_family, f"{fmt}: two IPv{version} groups ({name})"
        by_family[version] = networks
    # Both tags' IPv4 and OneDsCollector's IPv6: each family group is exactly its part.
    assert by_family == {v: {n for n in want if n.version == v} for v in (4, 6)}


# --- incremental outputs for both tags over real versions, in both directions -----------------
# 20221212 -> 20240819: both tags gain prefixes, MicrosoftDefenderForEndpoint loses some, and
# OneDsCollector's first IPv6 prefixes appear; the reverse takes the IPv6 family away again.
STEPS = [("20221212", "20240819"), ("20240819", "20221212")]


def _versions(old_date: str, new_date: str) -> tuple[Any, Any, Any]:
    from conftest import public

    from tagsync.diff import diff_service_tags

    old = parse_service_tags(public(old_date).read_bytes())
    new = parse_service_tags(public(new_date).read_bytes())
    return old, new, diff_service_tags(old, new, list(V3.tags))


def _render(st: Any, fmt: str, changes: Any = None) -> dict[str, str]:
    settings = render_settings(V3.section("render"))
    return render_formats(st, list(V3.tags), [fmt], settings=settings, changes=changes)


@pytest.mark.parametrize(("old_date", "new_date"), STEPS)
def test_v3_paloalto_incremental_replays(old_date: str, new_date: str) -> None:
    from test_render_paloalto import check_full

    old, new, changes = _versions(old_date, new_date)
    config = check_full(_render(old, "paloalto")["paloalto/set-commands.txt"], 2500)
    files = _render(new, "paloalto", changes)
    config.apply(files["paloalto/incremental-set-commands.txt"])  # strict: order, no empty
    target = check_full(files["paloalto/set-commands.txt"], 2500)
    assert (config.objects, config.groups, config.rules) == (
        target.objects,
        target.groups,
        target.rules,
    )


@pytest.mark.parametrize(("old_date", "new_date"), STEPS)
def test_v3_ciscoasa_incremental_replays(old_date: str, new_date: str) -> None:
    from test_render_ciscoasa import parse, read_config

    old, new, changes = _versions(old_date, new_date)
    groups = read_config(_render(old, "ciscoasa")["ciscoasa/config.txt"])
    files = _render(new, "ciscoasa", changes)
    text = files["ciscoasa/incremental.txt"]
    acl = {line.text for line in parse(text).find_objects(r"^(no )?access-list ")}
    for group in parse(text).find_objects(r"^object-group network "):
        members = groups.setdefault(group.name, set())
        for child in group.children:
            if child.text.startswith(" no network-object "):
                members.remove(_asa(child.text.removeprefix(" no network-object ")))
                assert members, f"{group.name} left empty"
            elif child.text.startswith(" network-object "):
                members.add(_asa(child.text.removeprefix(" network-object ")))
    for line in acl:
        if line.startswith("no "):
            (name,) = re.findall(r"object-group (\S+) eq https", line)
            del groups[name]
    assert groups == read_config(files["ciscoasa/config.txt"])


def _asa(text: str) -> str:
    parts = text.split()
    if parts[0] == "host":
        return str(ipaddress.ip_network(parts[1]))
    return str(ipaddress.ip_network("/".join(parts)))


@pytest.mark.parametrize(("old_date", "new_date"), STEPS)
def test_v3_junipersrx_incremental_replays(old_date: str, new_date: str) -> None:
    from test_render_junipersrx import Srx, bodies, replay

    old, new, changes = _versions(old_date, new_date)
    lines = bodies(_render(old, "junipersrx")["junipersrx/set-commands.txt"])
    files = _render(new, "junipersrx", changes)
    replay(lines, files["junipersrx/incremental-set-commands.txt"])
    assert lines == bodies(files["junipersrx/set-commands.txt"])
    Srx.read(sorted(lines)).check(1024)


@pytest.mark.parametrize(("old_date", "new_date"), STEPS)
def test_v3_fortigate_incremental_replays(old_date: str, new_date: str) -> None:
    from test_render_fortigate import full_config, normalized

    old, new, changes = _versions(old_date, new_date)
    files = _render(new, "fortigate", changes)
    text = files["fortigate/incremental.conf"]
    if new_date == "20240819":
        # The IPv6 family is new: its top group is created, and the admin is told to add it
        # to the policy (the incremental file never edits the policy).
        assert (
            'ACTION NEEDED: the first IPv6 prefixes. The commands below create "tagsync-all-v6"'
            in text
        )
        replayed = full_config(_render(old, "fortigate")).apply(text)
        assert (
            normalized(replayed)["firewall addrgrp6"]
            == normalized(full_config(files))["firewall addrgrp6"]
        )
    else:
        assert "ACTION NEEDED: no IPv6 prefixes remain" in text


# --- the sensor format under v3 needs only the sensors' addresses -----------------------------
SENSORS = ["10.0.0.20", "10.0.1.20"]
OTHER_GROUPS = {
    "dns_servers": ["10.0.0.53"],
    "radius_servers": ["10.0.5.10"],
    "device_subnets": ["10.0.0.0/16"],
}


def _sensor_settings(profile: str, section: dict[str, Any]) -> Any:
    from dataclasses import replace

    config = apply_profile(replace(Config(), sections={"render": {"mdi-sensor": section}}), profile)
    return render_settings(config.section("render"))


def test_mdi_sensor_under_v3_needs_only_the_sensors() -> None:
    from test_render_paloalto import PanConfig

    path = shared_file(FILES["public"])
    st = parse_service_tags(path.read_bytes(), source=str(path))
    alone = render_formats(
        st, list(V3.tags), ["mdi-sensor"], settings=_sensor_settings("mdi-v3", {"sensors": SENSORS})
    )
    full = render_formats(
        st,
        list(V3.tags),
        ["mdi-sensor"],
        settings=_sensor_settings("mdi-v3", {"sensors": SENSORS, **OTHER_GROUPS}),
    )
    assert alone == full  # v3.x has no rule for the other groups: they change nothing
    config = PanConfig()
    config.apply(alone["mdi-sensor/paloalto-set-commands.txt"])
    rule = config.rules["tagsync-mdi-ssl"]
    assert config.prefixes(rule["source"]) == {f"{a}/32" for a in SENSORS}
    want = union_from_json(path, V3.tags)
    got = [nets(config.prefixes({g})) for g in rule["destination"]]
    assert sorted(got, key=len) == sorted(
        ({n for n in want if n.version == v} for v in (4, 6)), key=len
    )
    assert all(len({n.version for n in group}) == 1 for group in got)


def test_mdi_sensor_needs_follow_the_profile() -> None:
    from tagsync.errors import ConfigError

    path = shared_file(FILES["public"])
    st = parse_service_tags(path.read_bytes(), source=str(path))
    with pytest.raises(ConfigError) as v3:
        render_formats(st, list(V3.tags), ["mdi-sensor"], settings=_sensor_settings("mdi-v3", {}))
    assert str(v3.value) == (
        "the mdi-sensor format needs render.mdi-sensor.sensors in the config file: "
        "the site's address groups (profile mdi-v3)"
    )
    # v2.x still needs all four, and refuses a part of them in one line.
    with pytest.raises(ConfigError, match=r"missing dns_servers, radius_servers, device_subnets"):
        _sensor_settings("mdi-v2", {"sensors": SENSORS})
    with pytest.raises(ConfigError, match=r"needs render\.mdi-sensor\.dns_servers, "):
        render_formats(st, ["AzureAdvancedThreatProtection"], ["mdi-sensor"])


def test_formats_command_shows_the_needs_per_profile() -> None:
    from typer.testing import CliRunner

    from tagsync.cli import app
    from tagsync.formats.mdi_sensor import GROUPS

    result = CliRunner().invoke(app, ["formats", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (entry,) = [e for e in json.loads(result.stdout) if e["name"] == "mdi-sensor"]
    assert entry["needs_by_profile"] == {
        "mdi-v2": [f"render.mdi-sensor.{g}" for g in GROUPS],
        "mdi-v3": ["render.mdi-sensor.sensors"],
    }
    text = CliRunner().invoke(app, ["formats"]).stdout
    assert "  needs with profile mdi-v3: render.mdi-sensor.sensors\n" in text
