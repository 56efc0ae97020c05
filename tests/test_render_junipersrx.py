"""The Juniper SRX format, read back by hier-config (PyPI; Junos ``os="junos"``), which loads set
commands and brace-style configs alike into one list of ``set`` statements: the address book,
the address sets and the policy are checked against the published JSON (stdlib ``ipaddress``);
the incremental file is replayed on the previous version over real consecutive versions and
compared with hier-config's own remediation between the two full configs; Aerleon's ``srx``
output, loaded by the same reader, covers the same addresses."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public

from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.render import render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"
NAME_MAX = 63
BOOK = "security address-book global"
ADDRESS = re.compile(rf"{BOOK} address (\S+) (\S+)")
MEMBER = re.compile(rf"{BOOK} address-set (\S+) address (\S+)")
NESTED = re.compile(rf"{BOOK} address-set (\S+) address-set (\S+)")
POLICY = re.compile(
    r"security policies from-zone (\S+) to-zone (\S+) policy (\S+) "
    r"(match source-address|match destination-address|match application|then) (.+)"
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def load(path: Path) -> ServiceTags:
    return parse_service_tags(path.read_bytes(), source=str(path))


def json_prefixes(path: Path, tag: str) -> set[str]:
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def statements(text: str) -> list[str]:
    """hier-config's reading of Junos text (set or brace style) as ``set ...`` statements."""
    from hier_config import HConfig, Host

    config = HConfig(host=Host(hostname="srx", os="junos"))
    # "replace:" is a load-replace marker (Aerleon writes it), not part of the hierarchy.
    config.load_from_string(text.replace("replace: ", ""))
    return [child.cisco_style_text() for child in config.all_children()]


@dataclass
class Srx:
    """The address book, address sets and policies that a list of statements configures."""

    addresses: dict[str, str] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)
    nested: dict[str, set[str]] = field(default_factory=dict)  # set -> the sets it holds
    policies: dict[tuple[str, str, str], dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def read(cls, lines: list[str], *, strict: bool = True) -> Srx:
        srx = cls()
        for line in lines:
            assert line.isascii() and line.isprintable(), line
            body = line.removeprefix("set ")
            if (m := ADDRESS.fullmatch(body)) and not body.startswith(f"{BOOK} address-set "):
                network = ipaddress.ip_network(m[2])  # strict: host bits must be zero
                assert str(network) == m[2] and m[1] not in srx.addresses, line
                srx.addresses[m[1]] = m[2]
            elif m := MEMBER.fullmatch(body):
                srx.sets.setdefault(m[1], set()).add(m[2])
            elif m := NESTED.fullmatch(body):
                srx.nested.setdefault(m[1], set()).add(m[2])
            elif m := POLICY.fullmatch(body):
                values = m[5].strip("[] ").split()
                srx.policies.setdefault((m[1], m[2], m[3]), {}).setdefault(m[4], []).extend(values)
            else:
                assert not strict, f"unexpected statement: {line!r}"
        return srx

    def check(self, limit: int) -> Srx:
        for name in [*self.addresses, *self.sets, *(p for _, _, p in self.policies)]:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name) and len(name) <= NAME_MAX, name
        for name in self.nested:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name) and len(name) <= NAME_MAX, name
        for members in self.sets.values():
            assert 1 <= len(members) <= limit and members <= self.addresses.keys()
        for members in self.nested.values():  # one level: sets of address sets
            assert 1 <= len(members) <= limit and members <= self.sets.keys()
        # Every address is in a set; with one tag in exactly one.
        assert set().union(*self.sets.values()) == self.addresses.keys()
        if not self.nested:
            assert sum(map(len, self.sets.values())) == len(self.addresses)
        return self

    def tops(self) -> set[str]:
        """The sets no other set holds."""
        held = set().union(*self.nested.values())
        return (self.sets.keys() | self.nested.keys()) - held

    def networks(self, name: str) -> set[str]:
        """The prefixes of an address, a set, or a set of sets."""
        if name in self.nested:
            return set().union(*(self.networks(n) for n in self.nested[name]))
        return {self.addresses[m] for m in self.sets.get(name, {name})}

    def allowed(self) -> set[str]:
        networks = set()
        for rule in self.policies.values():
            assert rule["then"] == ["permit"] and rule["match source-address"] == ["any"]
            for name in rule["match destination-address"]:
                networks |= self.networks(name)
        return networks


def render(st: ServiceTags, tags: list[str], **section: Any) -> dict[str, str]:
    settings = render_settings({"junipersrx": section} if section else None)
    return render_formats(st, tags, ["junipersrx"], settings=settings)


def read_full(text: str, limit: int = 1024) -> Srx:
    srx = Srx.read(statements(text)).check(limit)
    (rule,) = srx.policies.values()
    assert rule["match application"] == ["junos-https"]
    assert sorted(rule["match destination-address"]) == sorted(srx.tops())
    return srx


def test_address_book_sets_and_policy_allow_exactly_the_tag() -> None:
    files = render(load(SAMPLE_NEW), [TAG])
    assert list(files) == ["junipersrx/set-commands.txt"]
    srx = read_full(files["junipersrx/set-commands.txt"])
    want = json_prefixes(SAMPLE_NEW, TAG)
    assert set(srx.addresses.values()) == want and len(srx.addresses) == len(want)
    assert srx.allowed() == want
    assert list(srx.policies) == [("trust", "untrust", "tagsync-https")]


@pytest.mark.slow
def test_azurecloud_is_split_at_the_set_limit() -> None:
    path = public("20251006")
    text = render(load(path), ["AzureCloud"], set_member_limit=1000)["junipersrx/set-commands.txt"]
    srx = read_full(text, 1000)
    want = json_prefixes(path, "AzureCloud")
    assert srx.allowed() == want
    assert len(srx.sets) == -(-len(want) // 1000)


def test_options_reach_the_policy() -> None:
    st = load(SAMPLE_NEW)
    section = {"policy_name": "azure_mdi", "from_zone": "lan", "to_zone": "internet",
               "name_prefix": "az-", "set_member_limit": 50}  # fmt: skip
    text = render(st, [TAG], **section)["junipersrx/set-commands.txt"]
    srx = read_full(text, 50)
    assert list(srx.policies) == [("lan", "internet", "azure_mdi")]
    assert len(srx.sets) == -(-len(json_prefixes(SAMPLE_NEW, TAG)) // 50)
    assert all(name.startswith("az-") for name in [*srx.addresses, *srx.sets])


@pytest.mark.parametrize(
    "section",
    [
        {"policy_name": "p" * 64},
        {"policy_name": "allow https"},
        {"from_zone": "trust;"},
        {"to_zone": "1untrust"},
        {"name_prefix": "p" * 17},
        {"set_member_limit": 0},
        {"set_member_limit": 16385},
        {"application": "junos-http"},
    ],
)
def test_bad_settings_are_config_errors(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"render\.junipersrx"):
        render_settings({"junipersrx": section})


def test_long_tag_names_give_short_distinct_names() -> None:
    from tagsync.formats.junipersrx import JuniperSrxOptions, srx_layout

    long_a, long_b = "A" * 150 + ".x", "A" * 150 + ".y"
    pairs = [(long_a, [f"10.0.{i}.0/24" for i in range(30)]), (long_b, ["2001:db8::/32"])]
    shape = srx_layout(pairs, JuniperSrxOptions(set_member_limit=7))
    names = list(shape.groups)
    # 5 + 1 sets of the tags, and the IPv4 and IPv6 sets holding them.
    assert len(names) == len(set(names)) == 8
    assert shape.rule_groups == ["tagsync-all-v4", "tagsync-all-v6"]
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,62}", n) for n in names)
    # Junos names get "_" for a tag's dots: two tags that then read alike stay apart.
    shape = srx_layout(
        [("A.b", ["192.0.2.0/24"]), ("A_b", ["198.51.100.0/24"])], JuniperSrxOptions()
    )
    tag_sets = [g for names in shape.key_groups.values() for g in names]
    assert len(set(tag_sets)) == 2 and all(g.startswith("tagsync-g-A_b-") for g in tag_sets)


# --- incremental commands over real consecutive versions ----------------------------------
CASES = [
    ("20250728", "20250804", "AzureCloud", 1024),
    ("20250728", "20250804", TAG, 1024),
    ("20250804", "20250811", "Storage", 3),  # fewer prefixes: sets disappear
    ("20250908", "20251006", "AzureFrontDoor.Backend", 10),  # more prefixes: sets appear
]


def replay(lines: set[str], text: str) -> set[str]:
    """Apply set/delete statements as Junos would; returns the statements deleted."""
    deleted: set[str] = set()
    for line in statements(text):
        verb, _, body = line.partition(" ")
        if verb == "set":
            assert body not in lines, f"set twice: {line}"
            lines.add(body)
        else:
            assert verb == "delete", line
            # A whole statement, or a node: every statement under it.
            gone = {body} if body in lines else {x for x in lines if x.startswith(body + " ")}
            assert gone, f"deletes nothing: {line}"
            lines -= gone
            deleted |= gone
    return deleted


def bodies(text: str) -> set[str]:
    return {line.removeprefix("set ") for line in statements(text)}


@pytest.mark.slow
@pytest.mark.parametrize(("old_date", "new_date", "tag", "limit"), CASES)
def test_incremental_commands_are_the_set_difference(
    old_date: str, new_date: str, tag: str, limit: int
) -> None:
    old_path, new_path = public(old_date), public(new_date)
    old, new = load(old_path), load(new_path)
    previous = render(old, [tag], set_member_limit=limit)["junipersrx/set-commands.txt"]
    settings = render_settings({"junipersrx": {"set_member_limit": limit}})
    files = render_formats(
        new, [tag], ["junipersrx"], settings=settings, changes=diff_service_tags(old, new, [tag])
    )
    full, incremental = (
        files["junipersrx/set-commands.txt"],
        files["junipersrx/incremental-set-commands.txt"],
    )
    before, after = json_prefixes(old_path, tag), json_prefixes(new_path, tag)
    assert before != after

    lines = bodies(previous)
    old_srx = Srx.read(sorted(lines))
    deleted = replay(lines, incremental)
    new_srx = Srx.read(sorted(lines)).check(limit)
    assert lines == bodies(full)  # the incremental file turns the old config into the new one
    assert new_srx.allowed() == after
    created = set(new_srx.addresses.values()) - set(old_srx.addresses.values())
    gone = {old_srx.addresses[n] for n in old_srx.addresses.keys() - new_srx.addresses.keys()}
    assert (created, gone) == (after - before, before - after)  # stdlib set arithmetic

    # hier-config's own remediation between the two full configs deletes and sets the same
    # (its diff is quadratic: minutes for AzureCloud, so the large tag is checked by replay).
    if tag == "AzureCloud":
        return
    from hier_config import HConfig, Host

    host = Host(hostname="srx", os="junos")
    running, generated = HConfig(host=host), HConfig(host=host)
    running.load_from_string(previous)
    generated.load_from_string(full)
    remediation = [c.cisco_style_text() for c in running.config_to_get_to(generated).all_children()]
    theirs_set = {line.removeprefix("set ") for line in remediation if line.startswith("set ")}
    theirs_deleted = {
        line.removeprefix("delete ") for line in remediation if line.startswith("delete ")
    }
    ours_set = {
        line.removeprefix("set ") for line in statements(incremental) if line.startswith("set ")
    }
    assert ours_set == theirs_set
    assert deleted == theirs_deleted


def test_golden_incremental_replays_on_the_sample() -> None:
    old, new = load(SAMPLE_OLD), load(SAMPLE_NEW)
    files = render_formats(new, [TAG], ["junipersrx"], changes=diff_service_tags(old, new, [TAG]))
    lines = bodies(render(old, [TAG])["junipersrx/set-commands.txt"])
    replay(lines, files["junipersrx/incremental-set-commands.txt"])
    assert lines == bodies(files["junipersrx/set-commands.txt"])


def test_incremental_without_changes_says_so() -> None:
    st = load(SAMPLE_NEW)
    files = render_formats(st, [TAG], ["junipersrx"], changes=diff_service_tags(st, st, [TAG]))
    assert statements(files["junipersrx/incremental-set-commands.txt"]) == []
    assert "# No changes for the selected tags." in files["junipersrx/incremental-set-commands.txt"]


# --- the same addresses as Aerleon's srx generator ----------------------------------------
def aerleon_srx(prefixes: list[str]) -> str:
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
    header = {"targets": {"srx": "from-zone trust to-zone untrust"}}
    policy = [{"filename": "srx", "filters": [{"header": header, "terms": [term]}]}]
    return next(iter(dict(api.Generate(policy, definitions)).values()))


def covered(networks: set[str]) -> list[Network]:
    """The fewest networks covering the same addresses, IPv4 then IPv6 (stdlib)."""
    parsed = [ipaddress.ip_network(n) for n in networks]
    return [
        net
        for version in (4, 6)
        for net in ipaddress.collapse_addresses(n for n in parsed if n.version == version)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("tag", [TAG, "AzureCloud"])
def test_same_addresses_as_aerleon(tag: str) -> None:
    path = public("20251006")
    st = load(path)
    ours = read_full(render(st, [tag])["junipersrx/set-commands.txt"]).allowed()
    # Aerleon writes brace style (its application and comment lines are not read here) and
    # merges adjacent and nested networks into fewer prefixes: compare the addresses covered.
    theirs = Srx.read(statements(aerleon_srx(list(st.tags[tag].prefixes))), strict=False)
    assert theirs.policies and covered(theirs.allowed()) == covered(ours)
    assert ours == json_prefixes(path, tag)
