"""The Cisco ASA format, read back by ciscoconfparse2 (PyPI; ``syntax="asa"``): its object-group
hierarchy gives each group's ``network-object`` lines and its ASA access-list model reads every
ACL line. Address sets are checked against the published JSON (stdlib ``ipaddress``), the
incremental file is replayed on the previous version's groups over real consecutive versions,
and Aerleon's ``ciscoasa`` generator, read by the same parser, covers the same addresses."""

from __future__ import annotations

import ipaddress
import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public

from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.render import render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"
ASA_NAME_MAX = 64  # "Object names are limited to 64 characters" (ASA configuration guide)
NETWORK_OBJECT = re.compile(
    r" (no )?network-object (?:host (?P<host>\S+)|(?P<net>\d+\.\d+\.\d+\.\d+) "
    r"(?P<mask>\d+\.\d+\.\d+\.\d+)|(?P<prefix>[0-9a-f:]+/\d+))"
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def load(path: Path) -> ServiceTags:
    return parse_service_tags(path.read_bytes(), source=str(path))


def json_prefixes(path: Path, tag: str) -> set[str]:
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def parse(text: str) -> Any:
    """ciscoconfparse2's ASA reader with its typed line classes (object groups, ACL lines)."""
    from ciscoconfparse2 import CiscoConfParse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it calls the typed-class switch deprecated
        return CiscoConfParse(text.splitlines(), syntax="asa", factory=True)


def network_object(text: str) -> tuple[bool, str]:
    """(removal?, network) of one ``[no] network-object`` child line, read strictly."""
    match = NETWORK_OBJECT.fullmatch(text)
    assert match is not None, f"not a network-object line: {text!r}"
    if match["host"]:
        network: Network = ipaddress.ip_network(match["host"])
    elif match["net"]:
        network = ipaddress.ip_network(f"{match['net']}/{match['mask']}")  # strict: host bits 0
    else:
        network = ipaddress.ip_network(match["prefix"])
        assert network.version == 6 and network.prefixlen < 128, text  # the ASA prints host
    return match.group(1) is not None, str(network)


def acl_lines(config: Any, acl: str = "tagsync-out") -> list[dict[str, str]]:
    """Every access-list line as ciscoconfparse2's ASA ACL model reads it (remarks dropped)."""
    lines = []
    for line in config.find_objects(r"^access-list "):
        assert type(line).__name__ == "ASAAclLine", line.text
        fields = {k: v for k, v in line._mm_results.items() if v}
        if fields.get("action0") == "remark":
            continue
        assert fields["acl_name2"] == acl and fields["action2"] == "permit", line.text
        assert fields["protocol2"] == "tcp" and fields["src_network2a"] == "any", line.text
        assert (fields["dst_port_operator"], fields["dst_port"]) == ("eq", "https"), line.text
        lines.append(fields)
    return lines


def read_config(text: str) -> dict[str, set[str]]:
    """Group -> networks of a full config.txt; every group is named by one ACL line."""
    config = parse(text)
    groups: dict[str, set[str]] = {}
    for group in config.find_objects(r"^object-group network "):
        assert type(group).__name__ == "ASAObjGroupNetwork", group.text
        assert group.name not in groups and 1 <= len(group.name) <= ASA_NAME_MAX
        children = [c.text for c in group.children]
        assert re.match(
            r" description tagsync: (service tag |IPv[46] of service tags )", children[0]
        )
        assert len(children[0]) <= len(" description ") + 100
        entries = [network_object(c) for c in children[1:]]
        assert entries and not any(removal for removal, _ in entries)
        groups[group.name] = {network for _, network in entries}
        assert len(groups[group.name]) == len(entries), "a network-object twice"
    named = [fields["dst_networkobject2"] for fields in acl_lines(config)]
    assert sorted(named) == sorted(groups)
    return groups


def one_tag(name: str, prefixes: list[str]) -> ServiceTags:
    entry = {
        "name": name,
        "id": name,
        "properties": {"changeNumber": 1, "addressPrefixes": prefixes},
    }
    document = {"changeNumber": 1, "cloud": "Public", "values": [entry]}
    return parse_service_tags(json.dumps(document).encode())


def render(st: ServiceTags, tags: list[str], **section: Any) -> dict[str, str]:
    settings = render_settings({"ciscoasa": section} if section else None)
    return render_formats(st, tags, ["ciscoasa"], settings=settings)


def test_object_groups_and_acl_allow_exactly_the_tag() -> None:
    files = render(load(SAMPLE_NEW), [TAG])
    assert list(files) == ["ciscoasa/config.txt"]
    groups = read_config(files["ciscoasa/config.txt"])
    assert list(groups) == [f"tagsync-{TAG}"]
    assert groups[f"tagsync-{TAG}"] == json_prefixes(SAMPLE_NEW, TAG)  # IPv4 and IPv6 together


def test_options_and_long_names() -> None:
    st = load(SAMPLE_NEW)
    text = render(st, [TAG], name_prefix="AZ_", acl_name="outside_access_out")[
        "ciscoasa/config.txt"
    ]
    acl = acl_lines(parse(text), "outside_access_out")
    assert [fields["dst_networkobject2"] for fields in acl] == [f"AZ_{TAG}"]
    from tagsync.formats.ciscoasa import CiscoAsaOptions, asa_layout

    long_a, long_b = "A" * 150 + ".x", "A" * 150 + ".y"
    names = [
        *asa_layout([(long_a, ["192.0.2.0/24"])], CiscoAsaOptions()).groups,
        *asa_layout([(long_b, ["2001:db8::/32"])], CiscoAsaOptions()).groups,
    ]
    assert len(set(names)) == 2 and all(len(n) <= ASA_NAME_MAX for n in names)
    long_tag = "Service" + "x" * 180 + ".Region"
    st_long = one_tag(long_tag, ["192.0.2.0/24", "2001:db8::/32"])
    groups = read_config(render(st_long, [long_tag])["ciscoasa/config.txt"])
    assert list(groups.values()) == [{"192.0.2.0/24", "2001:db8::/32"}]


@pytest.mark.parametrize(
    "section",
    [
        {"acl_name": "a" * 65},
        {"acl_name": "out acl"},
        {"acl_name": "x\nno access-list"},
        {"name_prefix": "9lives"},
        {"name_prefix": "p" * 17},
        {"interface": "inside"},
    ],
)
def test_bad_settings_are_config_errors(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"render\.ciscoasa"):
        render_settings({"ciscoasa": section})


def test_allow_empty_renders_no_group_and_no_acl() -> None:
    st = one_tag("Empty", [])
    text = render_formats(st, ["Empty"], ["ciscoasa"], allow_empty=True)["ciscoasa/config.txt"]
    config = parse(text)
    assert not config.find_objects(r"^object-group") and not acl_lines(config)


# --- incremental commands over real consecutive versions ----------------------------------
CASES = [
    ("20250728", "20250804", "AzureCloud"),
    ("20250728", "20250804", TAG),
    ("20250804", "20250811", "Storage"),
    ("20250908", "20251006", "AzureFrontDoor.Backend"),
]


def replay(groups: dict[str, set[str]], text: str) -> tuple[set[str], set[str]]:
    """Apply incremental.txt as the ASA would; returns (networks added, networks removed)."""
    config = parse(text)
    added: set[str] = set()
    removed: set[str] = set()
    for group in config.find_objects(r"^object-group network "):
        members = groups.setdefault(group.name, set())
        for child in group.children:
            if child.text.startswith(" description "):
                continue
            removal, network = network_object(child.text)
            if removal:
                assert network in members, f"no such network-object: {child.text}"
                members.remove(network)
                assert members, f"{group.name} left empty"
                removed.add(network)
            else:
                assert network not in members, f"network-object twice: {child.text}"
                members.add(network)
                added.add(network)
    assert not acl_lines(config)  # the tag's group and its ACL line stay
    return added, removed


@pytest.mark.slow
@pytest.mark.parametrize(("old_date", "new_date", "tag"), CASES)
def test_incremental_commands_are_the_set_difference(
    old_date: str, new_date: str, tag: str
) -> None:
    old_path, new_path = public(old_date), public(new_date)
    old, new = load(old_path), load(new_path)
    previous = render(old, [tag])["ciscoasa/config.txt"]
    files = render_formats(new, [tag], ["ciscoasa"], changes=diff_service_tags(old, new, [tag]))
    before, after = json_prefixes(old_path, tag), json_prefixes(new_path, tag)
    assert before != after

    groups = read_config(previous)
    added, removed = replay(groups, files["ciscoasa/incremental.txt"])
    assert (added, removed) == (after - before, before - after)  # stdlib set arithmetic
    assert groups == read_config(files["ciscoasa/config.txt"])


def test_golden_incremental_replays_on_the_sample() -> None:
    old, new = load(SAMPLE_OLD), load(SAMPLE_NEW)
    files = render_formats(new, [TAG], ["ciscoasa"], changes=diff_service_tags(old, new, [TAG]))
    groups = read_config(render(old, [TAG])["ciscoasa/config.txt"])
    replay(groups, files["ciscoasa/incremental.txt"])
    assert groups == read_config(files["ciscoasa/config.txt"])


# --- the same addresses as Aerleon's ciscoasa generator -----------------------------------
def aerleon_ciscoasa(prefixes: list[str]) -> str:
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
    header = {"targets": {"ciscoasa": "tagsync-out"}}
    policy = [{"filename": "asa", "filters": [{"header": header, "terms": [term]}]}]
    return next(iter(dict(api.Generate(policy, definitions)).values()))


def covered(networks: set[str]) -> list[Network]:
    return list(ipaddress.collapse_addresses(ipaddress.ip_network(n) for n in networks))


@pytest.mark.slow
@pytest.mark.parametrize("tag", [TAG, "AzureCloud"])
def test_same_addresses_as_aerleon(tag: str) -> None:
    path = public("20251006")
    st = load(path)
    (ours,) = read_config(render(st, [tag])["ciscoasa/config.txt"]).values()
    text = aerleon_ciscoasa(list(st.tags[tag].prefixes))
    theirs = set()
    for fields in acl_lines(parse(text)):
        if fields.get("dst_network2b"):  # host A
            theirs.add(str(ipaddress.ip_network(fields["dst_network2b"])))
        else:  # A MASK
            net = f"{fields['dst_network2c']}/{fields['dst_netmask2c']}"
            theirs.add(str(ipaddress.ip_network(net)))
    # Aerleon's ASA generator writes IPv4 terms only, and leaves out a network another one
    # in the list already covers: every network it writes is one of ours, and both cover
    # exactly the same IPv4 addresses.
    ours_v4 = {n for n in ours if ":" not in n}
    assert theirs <= ours_v4
    assert covered(theirs) == covered(ours_v4)
    assert ours == json_prefixes(path, tag)
