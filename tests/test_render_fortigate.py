"""The built-in FortiGate format, read back by the strict FortiOS CLI model in tests/fortios.py:
every address is one of the tag's prefixes (stdlib ``ipaddress``), groups stay under the member
limit, the policy names the two top groups, the incremental file replayed on the previous
version's config gives the new one, and Aerleon's ``fortigate`` generator, read by the same
model, holds the same addresses."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public
from fortios import NAME_MAX, FortiConfig, parse_fortios

from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.render import render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"
FAMILIES = (
    (4, "firewall address", "firewall addrgrp", "dstaddr"),
    (6, "firewall address6", "firewall addrgrp6", "dstaddr6"),
)


def load(path: Path) -> ServiceTags:
    return parse_service_tags(path.read_bytes(), source=str(path))


def json_prefixes(path: Path, tag: str) -> set[str]:
    """The tag's prefixes straight from the published JSON, canonical by stdlib ipaddress."""
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def one_tag(name: str, prefixes: list[str]) -> ServiceTags:
    entry = {
        "name": name,
        "id": name,
        "properties": {"changeNumber": 1, "addressPrefixes": prefixes},
    }
    document = {"changeNumber": 1, "cloud": "Public", "values": [entry]}
    return parse_service_tags(json.dumps(document).encode())


def render(st: ServiceTags, tags: list[str], **section: Any) -> dict[str, str]:
    settings = render_settings({"fortigate": section} if section else None)
    return render_formats(st, tags, ["fortigate"], settings=settings)


def full_config(files: dict[str, str]) -> FortiConfig:
    config = parse_fortios(files["fortigate/addresses.conf"])
    return config.apply(files["fortigate/policy.conf"])


def address_value(path: str, entry: dict[str, list[str]]) -> str:
    """The network an address entry holds, read back with stdlib ipaddress (strict)."""
    if path == "firewall address":
        address, mask = entry["subnet"]
        return str(ipaddress.ip_network(f"{address}/{mask}"))
    (prefix,) = entry["ip6"]
    return str(ipaddress.ip_network(prefix))


def addresses(config: FortiConfig) -> dict[str, str]:
    """Every address object: name -> network."""
    return {
        name: address_value(path, entry)
        for _, path, _, _ in FAMILIES
        for name, entry in config.tables.get(path, {}).items()
    }


def allowed(config: FortiConfig) -> set[str]:
    """The networks the tagsync policy allows: through its top groups to the address objects."""
    (policy,) = [p for p in config.tables["firewall policy"].values()
                 if p["name"] == ["tagsync-https"]]  # fmt: skip
    assert policy["action"] == ["accept"] and policy["service"] == ["HTTPS"]
    networks = set()
    for _, path, group_path, key in FAMILIES:
        for top in policy.get(key, []):
            for member in config.members(group_path, top):
                networks.add(address_value(path, config.tables[path][member]))
    return networks


def normalized(config: FortiConfig) -> dict[str, Any]:
    """The tables with group members as sets (FortiOS keeps members in the order they came)."""
    return {
        path: {
            name: {k: (set(v) if k == "member" else v) for k, v in entry.items()}
            for name, entry in table.items()
        }
        for path, table in config.tables.items()
    }


def check_full(files: dict[str, str], limit: int) -> FortiConfig:
    config = full_config(files)
    for _, path, group_path, _ in FAMILIES:
        groups = config.tables.get(group_path, {})
        for name, entry in groups.items():
            assert len(name) <= NAME_MAX
            assert 1 <= len(entry["member"]) <= limit or name.startswith("tagsync-all-")
        members = [m for name, e in groups.items() if not name.startswith("tagsync-all-")
                   for m in e["member"]]  # fmt: skip
        # Every address object sits in exactly one tag group.
        assert sorted(members) == sorted(config.tables.get(path, {}))
    assert all(len(n) <= NAME_MAX for n in addresses(config))
    return config


def test_addresses_and_policy_allow_exactly_the_tag() -> None:
    files = render(load(SAMPLE_NEW), [TAG])
    assert list(files) == ["fortigate/addresses.conf", "fortigate/policy.conf"]
    config = check_full(files, 600)
    want = json_prefixes(SAMPLE_NEW, TAG)
    # Names come from the prefix: one object per prefix, each holding its own prefix.
    objects = addresses(config)
    assert set(objects.values()) == want and len(objects) == len(want)
    assert allowed(config) == want
    groups = config.tables["firewall addrgrp"]
    assert groups["tagsync-g-AzureAdvancedThreatProtection-v4"]["comment"] == [
        f"tagsync: service tag {TAG}"
    ]
    assert groups["tagsync-all-v4"]["member"] == ["tagsync-g-AzureAdvancedThreatProtection-v4"]


@pytest.mark.slow
def test_azurecloud_is_split_at_the_member_limit() -> None:
    path = public("20251006")
    files = render(load(path), ["AzureCloud"])
    config = check_full(files, 600)
    want = json_prefixes(path, "AzureCloud")
    assert allowed(config) == want
    for version, _, group_path, _ in FAMILIES:
        count = sum(1 for p in want if ipaddress.ip_network(p).version == version)
        tag_groups = [g for g in config.tables[group_path] if not g.startswith("tagsync-all-")]
        assert len(tag_groups) == -(-count // 600)
        assert config.tables[group_path][f"tagsync-all-v{version}"]["member"] == tag_groups
    # Long member lists go 50 names per CLI line: "set member" first, then "append member".
    longest = max(len(line) for line in files["fortigate/addresses.conf"].splitlines())
    assert longest < 50 * (NAME_MAX + 3) + 20


def test_policy_options_and_families() -> None:
    st = load(SAMPLE_NEW)
    files = render(st, [TAG], policy_name="azure-mdi", srcintf="internal", dstintf="wan1")
    config = full_config(files)
    (policy,) = config.tables["firewall policy"].values()
    assert policy["name"] == ["azure-mdi"]
    assert (policy["srcintf"], policy["dstintf"]) == (["internal"], ["wan1"])
    assert policy["dstaddr"] == ["tagsync-all-v4"] and policy["dstaddr6"] == ["tagsync-all-v6"]
    # A tag with IPv4 prefixes only: the policy has no IPv6 half (FortiOS refuses empty groups).
    files = render(one_tag("V4Only", ["192.0.2.0/24", "198.51.100.0/24"]), ["V4Only"])
    (policy,) = full_config(files).tables["firewall policy"].values()
    assert "dstaddr6" not in policy and "srcaddr6" not in policy
    assert "config firewall address6" not in files["fortigate/addresses.conf"]


@pytest.mark.parametrize(
    "section",
    [
        {"policy_name": "p" * 36},  # FortiOS policy names: at most 35 characters
        {"policy_name": 'x" next'},
        {"srcintf": "port1 port2"},
        {"dstintf": "i" * 36},
        {"name_prefix": "p" * 17},
        {"name_prefix": "1abc"},
        {"group_member_limit": 0},
        {"group_member_limit": "600"},
        {"color": 3},
    ],
)
def test_bad_settings_are_config_errors(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"render\.fortigate"):
        render_settings({"fortigate": section})


def test_long_tag_names_give_short_distinct_names() -> None:
    from tagsync.formats.fortigate import FortiGateOptions, forti_families

    long_a, long_b = "A" * 150 + ".x", "A" * 150 + ".y"
    pairs = [(long_a, [f"10.0.{i}.0/24" for i in range(30)]), (long_b, ["2001:db8::/32"])]
    families = forti_families(pairs, FortiGateOptions(group_member_limit=7))
    names = [g for f in families for g in f.layout.groups]
    assert len(names) == len(set(names)) == 6
    assert all(len(n) <= NAME_MAX and re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names)
    # The top group holds every tag group: more than the limit is refused, not rendered.
    with pytest.raises(ConfigError, match=f"{-(-30 // 4)} IPv4 groups, more than"):
        forti_families(pairs, FortiGateOptions(group_member_limit=4))


# --- incremental commands over real consecutive versions ----------------------------------
CASES = [
    # (old, new, tag, group member limit)
    ("20250728", "20250804", "AzureCloud", 600),
    ("20250728", "20250804", TAG, 600),
    # Small limits (the top group must still hold every tag group) so that groups come and go:
    ("20250804", "20250811", "Storage", 25),  # fewer prefixes: a group disappears
    ("20250908", "20251006", "AzureFrontDoor.Backend", 12),  # more prefixes: groups appear
]


@pytest.mark.slow
@pytest.mark.parametrize(("old_date", "new_date", "tag", "limit"), CASES)
def test_incremental_commands_are_the_set_difference(
    old_date: str, new_date: str, tag: str, limit: int
) -> None:
    old_path, new_path = public(old_date), public(new_date)
    old, new = load(old_path), load(new_path)
    settings = render_settings({"fortigate": {"group_member_limit": limit}})
    previous = render_formats(old, [tag], ["fortigate"], settings=settings)
    files = render_formats(
        new, [tag], ["fortigate"], settings=settings, changes=diff_service_tags(old, new, [tag])
    )
    incremental = files["fortigate/incremental.conf"]

    # Independently: the set difference of the two published files.
    before, after = json_prefixes(old_path, tag), json_prefixes(new_path, tag)
    added, removed = after - before, before - after
    assert added or removed

    config = check_full(previous, limit)
    names = addresses(config)
    replayed = config.apply(incremental)  # strict: no empty group, no dangling reference
    created = dict(addresses(replayed).items() - names.items())
    assert set(created.values()) == added and len(created) == len(added)
    deleted = re.findall(r'^    delete "(tagsync-n-[^"]+)"$', incremental, re.M)
    assert {names[n] for n in deleted} == removed and len(deleted) == len(removed)

    # Replaying the incremental commands on the old config gives the new full config.
    target = check_full(files, limit)
    assert normalized(replayed) == normalized(target)
    assert allowed(replayed) == after
    counts = re.findall(r"^# IPv\d: .* groups \+(\d+) -(\d+)$", incremental, re.M)
    groups_added = sum(int(a) for a, _ in counts)
    groups_removed = sum(int(r) for _, r in counts)
    if tag == "Storage":
        assert groups_removed > 0
    if tag == "AzureFrontDoor.Backend":
        assert groups_added > 0


def test_incremental_without_changes_says_so() -> None:
    st = load(SAMPLE_NEW)
    files = render_formats(st, [TAG], ["fortigate"], changes=diff_service_tags(st, st, [TAG]))
    text = files["fortigate/incremental.conf"]
    assert "# No changes for the selected tags." in text
    assert not [line for line in text.splitlines() if line and not line.startswith("#")]


def test_golden_incremental_replays_on_the_sample() -> None:
    old, new = load(SAMPLE_OLD), load(SAMPLE_NEW)
    files = render_formats(new, [TAG], ["fortigate"], changes=diff_service_tags(old, new, [TAG]))
    replayed = full_config(render(old, [TAG])).apply(files["fortigate/incremental.conf"])
    assert normalized(replayed) == normalized(full_config(files))


# --- the same addresses as Aerleon's fortigate generator ----------------------------------
def aerleon_fortigate(prefixes: list[str]) -> str:
    from aerleon import api
    from aerleon.lib import naming

    definitions = naming.Naming()
    networks = {"AZURE": {"values": [{"address": p} for p in prefixes]}}
    definitions.ParseDefinitionsObject({"networks": networks}, "")
    definitions.ParseDefinitionsObject(
        {"services": {"HTTPS": [{"port": 443, "protocol": "tcp"}]}}, ""
    )
    term = {"name": "azure-https", "destination-address": "AZURE", "destination-port": "HTTPS",
            "protocol": "tcp", "action": "accept"}  # fmt: skip
    header = {"targets": {"fortigate": "from-zone internal to-zone wan1"}}
    policy = [{"filename": "fortigate", "filters": [{"header": header, "terms": [term]}]}]
    return next(iter(dict(api.Generate(policy, definitions)).values()))


@pytest.mark.slow
@pytest.mark.parametrize("tag", [TAG, "AzureCloud"])
def test_same_addresses_as_aerleon(tag: str) -> None:
    path = public("20251006")
    st = load(path)
    ours = full_config(render(st, [tag]))
    # Aerleon leaves names unquoted and adds a custom service: the same model reads it.
    theirs = parse_fortios(aerleon_fortigate(list(st.tags[tag].prefixes)), quoted_names=False)
    (policy,) = theirs.tables["firewall policy"].values()
    theirs_allowed = {
        address_value(path_, theirs.tables[path_][member])
        for _, path_, group_path, key in FAMILIES
        for group in policy.get(key, [])
        for member in theirs.members(group_path, group)
    }
    assert allowed(ours) == theirs_allowed == json_prefixes(path, tag)
