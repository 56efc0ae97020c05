"""PAN-OS output checked by a strict parser of the set commands, the XML and the EDL."""

from __future__ import annotations

import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, public

from tagsync.diff import diff_service_tags
from tagsync.formats.paloalto import PaloAltoOptions
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.render import RenderSettings, render_formats

NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
LINE = {
    "address": re.compile(rf"set address ({NAME}) ip-netmask (\S+)"),
    "member": re.compile(rf"set address-group ({NAME}) static ({NAME})"),
    "rule": re.compile(
        rf"set rulebase security rules ({NAME}) "
        r"(from|to|source|destination|application|service|action) (\S+)"
    ),
    "service": re.compile(rf"set service ({NAME}) protocol (tcp|udp) port (\d{{1,5}})"),
    "del_address": re.compile(rf"delete address ({NAME})"),
    "del_group": re.compile(rf"delete address-group ({NAME})"),
    "del_member": re.compile(rf"delete address-group ({NAME}) static ({NAME})"),
    "del_rule_dest": re.compile(rf"delete rulebase security rules ({NAME}) destination ({NAME})"),
}


@dataclass
class PanConfig:
    """Just enough of a PAN-OS candidate config to replay set/delete commands strictly."""

    objects: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    rules: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    services: dict[str, tuple[str, int]] = field(default_factory=dict)

    def apply(self, text: str) -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            assert line.isascii() and line.isprintable(), f"line {number}: {line!r}"
            if not line or line.startswith("#"):
                continue
            kind, match = next(
                ((k, m) for k, rx in LINE.items() if (m := rx.fullmatch(line))), (None, None)
            )
            assert match is not None, f"line {number} is not a known command: {line!r}"
            self._apply(kind or "", match.groups(), line)

    def _apply(self, kind: str, args: tuple[str, ...], line: str) -> None:
        if kind == "address":
            name, prefix = args
            network = ipaddress.ip_network(prefix)  # strict: host bits must be zero
            assert str(network) == prefix, line
            assert self.objects.get(name, prefix) == prefix, f"name reused: {line}"
            self.objects[name] = prefix
        elif kind == "member":
            group, member = args
            assert member in self.objects or member in self.groups, f"undefined: {line}"
            self.groups.setdefault(group, set()).add(member)
        elif kind == "rule":
            rule, key, value = args
            if key == "destination" and value != "any":
                assert value in self.groups, f"undefined group: {line}"
            self.rules.setdefault(rule, {}).setdefault(key, set()).add(value)
        elif kind == "service":
            self.services[args[0]] = (args[1], int(args[2]))
        elif kind == "del_member":
            group, member = args
            self.groups[group].remove(member)
            assert self.groups[group], f"group left empty: {line}"
        elif kind == "del_group":
            assert not any(args[0] in r.get("destination", ()) for r in self.rules.values())
            del self.groups[args[0]]
        elif kind == "del_rule_dest":
            self.rules[args[0]]["destination"].remove(args[1])
        elif kind == "del_address":
            assert not any(args[0] in m for m in self.groups.values()), f"still used: {line}"
            del self.objects[args[0]]

    def prefixes(self, group_names: set[str] | None = None) -> set[str]:
        names = self.groups if group_names is None else group_names
        return {self.objects[m] for g in names for m in self.groups[g]}


def load(path: Path) -> ServiceTags:
    return parse_service_tags(path.read_bytes(), source=str(path))


def json_prefixes(path: Path, tag: str) -> set[str]:
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def check_full(text: str, limit: int) -> PanConfig:
    config = PanConfig()
    config.apply(text)
    assert all(len(m) <= limit for m in config.groups.values())
    assert all(len(name) <= 63 for name in [*config.objects, *config.groups])
    rule = config.rules["tagsync-https"]
    assert rule["application"] == {"ssl"} and rule["service"] == {"service-https"}
    assert rule["action"] == {"allow"} and rule["destination"] == set(config.groups)
    return config


def test_set_commands_hold_exactly_the_tag(tmp_path: Path) -> None:
    files = render_formats(load(SAMPLE_NEW), ["AzureAdvancedThreatProtection"], ["paloalto"])
    config = check_full(files["paloalto/set-commands.txt"], 2500)
    assert config.prefixes() == json_prefixes(SAMPLE_NEW, "AzureAdvancedThreatProtection")
    assert list(config.groups) == ["tagsync-g-AzureAdvancedThreatProtection"]


@pytest.mark.slow
def test_azurecloud_is_split_into_groups_under_the_limit() -> None:
    path = public("20251006")
    settings = RenderSettings().with_options("paloalto", PaloAltoOptions(group_member_limit=1000))
    files = render_formats(load(path), ["AzureCloud"], ["paloalto"], settings=settings)
    config = check_full(files["paloalto/set-commands.txt"], 1000)
    want = json_prefixes(path, "AzureCloud")
    assert config.prefixes() == want
    assert len(config.groups) == -(-len(want) // 1000)
    # The XML snippet and the EDL carry the same prefixes.
    root = ET.fromstring(files["paloalto/config.xml"])
    assert {e.text for e in root.iter("ip-netmask")} == want
    edl = [line.split(" ", 1)[0] for line in files["paloalto/edl.txt"].splitlines()]
    assert set(edl) == want and len(edl) == len(want)


def test_xml_snippet_structure() -> None:
    files = render_formats(load(SAMPLE_NEW), ["AzureAdvancedThreatProtection"], ["paloalto"])
    root = ET.fromstring(files["paloalto/config.xml"])
    vsys = root.find("./devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']")
    assert vsys is not None
    objects = {e.get("name"): e.findtext("ip-netmask") for e in vsys.findall("./address/entry")}
    groups = {
        e.get("name"): {m.text for m in e.findall("./static/member")}
        for e in vsys.findall("./address-group/entry")
    }
    assert set(objects.values()) == json_prefixes(SAMPLE_NEW, "AzureAdvancedThreatProtection")
    assert set().union(*groups.values()) == set(objects)
    rule = vsys.find("./rulebase/security/rules/entry[@name='tagsync-https']")
    assert rule is not None and rule.findtext("action") == "allow"
    assert [m.text for m in rule.findall("./application/member")] == ["ssl"]
    assert [m.text for m in rule.findall("./service/member")] == ["service-https"]
    assert {m.text for m in rule.findall("./destination/member")} == set(groups)


def test_edl_is_one_prefix_per_line_with_the_header_on_the_first() -> None:
    files = render_formats(load(SAMPLE_NEW), ["AzureAdvancedThreatProtection"], ["paloalto"])
    lines = files["paloalto/edl.txt"].splitlines()
    assert " # Generated by tagsync" in lines[0] and "changeNumber: 365" in lines[0]
    assert all(" " not in line for line in lines[1:])
    entries = [line.split(" ", 1)[0] for line in lines]
    assert set(entries) == json_prefixes(SAMPLE_NEW, "AzureAdvancedThreatProtection")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tag", "limit"), [("AzureAdvancedThreatProtection", 2500), ("AzureCloud", 2500)]
)
def test_incremental_commands_are_the_set_difference(tag: str, limit: int) -> None:
    old_path, new_path = public("20250728"), public("20250804")
    old, new = load(old_path), load(new_path)
    changes = diff_service_tags(old, new, [tag])
    full_old = render_formats(old, [tag], ["paloalto"])["paloalto/set-commands.txt"]
    files = render_formats(new, [tag], ["paloalto"], changes=changes)
    incremental = files["paloalto/incremental-set-commands.txt"]

    # Independently: the set difference of the two published files.
    before, after = json_prefixes(old_path, tag), json_prefixes(new_path, tag)
    added, removed = after - before, before - after
    assert added or removed

    config = PanConfig()
    config.apply(full_old)
    names = dict(config.objects)
    set_lines = re.findall(r"^set address \S+ ip-netmask (\S+)$", incremental, re.M)
    deleted = re.findall(r"^delete address (\S+)$", incremental, re.M)
    assert set(set_lines) == added and len(set_lines) == len(added)
    assert {names[n] for n in deleted} == removed and len(deleted) == len(removed)

    # Replaying the incremental commands on the old config gives the new full config.
    config.apply(incremental)
    target = check_full(files["paloalto/set-commands.txt"], limit)
    assert config.objects == target.objects
    assert config.groups == target.groups
    assert config.rules == target.rules
    assert config.prefixes() == after


def test_incremental_without_changes_says_so() -> None:
    st = load(SAMPLE_NEW)
    changes = diff_service_tags(st, st, ["AzureAdvancedThreatProtection"])
    files = render_formats(st, ["AzureAdvancedThreatProtection"], ["paloalto"], changes=changes)
    text = files["paloalto/incremental-set-commands.txt"]
    assert "# No changes for the selected tags." in text
    assert not [line for line in text.splitlines() if line and not line.startswith("#")]


def test_object_names_are_unique_and_valid_for_the_whole_file() -> None:
    from tagsync.formats.paloalto import object_name

    st = load(public("20251006"))
    every = {p for tag in st.tags.values() for p in tag.prefixes}
    names = {object_name(p, "tagsync-") for p in every}
    assert len(names) == len(every)
    assert all(re.fullmatch(NAME, n) for n in names)


def test_long_tag_names_give_short_distinct_group_names() -> None:
    from tagsync.formats.paloalto import group_names

    long_a, long_b = "A" * 150 + ".x", "A" * 150 + ".y"
    names = group_names(long_a, "tagsync-", 12) + group_names(long_b, "tagsync-", 1)
    assert all(re.fullmatch(NAME, n) for n in names)
    assert len(set(names)) == len(names) == 13
