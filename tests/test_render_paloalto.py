"""PAN-OS output checked by a strict parser of the set commands (replayed on a model of the
candidate config, rule order included), the XML read back by pan-os-python, and the EDL."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml
from conftest import SAMPLE_NEW, public
from panos.firewall import Firewall
from panos.objects import AddressGroup, AddressObject
from panos.policies import Rulebase, SecurityRule

from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.formats.paloalto import PaloAltoOptions
from tagsync.formats.windows import WindowsOptions
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.render import RenderSettings, render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"

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
    "move": re.compile(
        rf"move rulebase security rules ({NAME}) (top|bottom|before|after)(?: ({NAME}))?"
    ),
}


@dataclass
class PanConfig:
    """Just enough of a PAN-OS candidate config to replay set/delete commands strictly."""

    objects: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    rules: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    services: dict[str, tuple[str, int]] = field(default_factory=dict)
    # The security rulebase in evaluation order: a rule made by set lands at the bottom.
    order: list[str] = field(default_factory=list)

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
            if key in ("source", "destination") and value != "any":
                assert value in self.groups, f"undefined group: {line}"
            if rule not in self.rules:
                self.order.append(rule)
            self.rules.setdefault(rule, {}).setdefault(key, set()).add(value)
        elif kind == "move":
            rule, where, ref = args
            assert rule in self.rules and rule in self.order, f"no such rule: {line}"
            assert (ref is None) == (where in ("top", "bottom")), line
            self.order.remove(rule)
            if where in ("top", "bottom"):
                self.order.insert(0 if where == "top" else len(self.order), rule)
            else:
                assert ref in self.order, f"no rule {ref} to place against: {line}"
                index = self.order.index(ref)
                self.order.insert(index if where == "before" else index + 1, rule)
        elif kind == "service":
            self.services[args[0]] = (args[1], int(args[2]))
        elif kind == "del_member":
            group, member = args
            self.groups[group].remove(member)
            assert self.groups[group], f"group left empty: {line}"
        elif kind == "del_group":
            assert not any(args[0] in r.get("destination", ()) for r in self.rules.values())
            assert not any(args[0] in m for m in self.groups.values()), f"still held: {line}"
            del self.groups[args[0]]
        elif kind == "del_rule_dest":
            self.rules[args[0]]["destination"].remove(args[1])
        elif kind == "del_address":
            assert not any(args[0] in m for m in self.groups.values()), f"still used: {line}"
            del self.objects[args[0]]

    def prefixes(self, group_names: set[str] | None = None) -> set[str]:
        """The prefixes of the groups' address objects, through nested groups."""
        names = self.groups if group_names is None else group_names
        found: set[str] = set()
        for group in names:
            for member in self.groups[group]:
                nested = member in self.groups
                found |= self.prefixes({member}) if nested else {self.objects[member]}
        return found

    def top_groups(self) -> set[str]:
        """The groups no other group holds."""
        held = {m for members in self.groups.values() for m in members}
        return set(self.groups) - held

    def group_family(self, group: str) -> set[int]:
        """The IP versions of a group's prefixes."""
        return {ipaddress.ip_network(p).version for p in self.prefixes({group})}


def load(path: Path) -> ServiceTags:
    return parse_service_tags(path.read_bytes(), source=str(path))


def json_prefixes(path: Path, tag: str) -> set[str]:
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def check_full(
    text: str,
    limit: int,
    *,
    zones: tuple[str, str] = ("trust", "untrust"),
    sources: set[str] | None = None,
    admin_rules: tuple[str, ...] = (),
) -> PanConfig:
    """Replay a full file on a config holding ``admin_rules``; check the rule it makes: the
    zones, the source prefixes (None: any) and that every group it made is a destination
    unless it holds the sources."""
    config = PanConfig(order=list(admin_rules))
    config.rules.update({name: {"action": {"deny"}} for name in admin_rules})
    config.apply(text)
    assert all(len(m) <= limit for m in config.groups.values())
    assert all(len(name) <= 63 for name in [*config.objects, *config.groups])
    rule = config.rules["tagsync-https"]
    assert rule["application"] == {"ssl"} and rule["service"] == {"service-https"}
    assert (rule["from"], rule["to"]) == ({zones[0]}, {zones[1]})
    source_groups = rule["source"] - {"any"}
    if sources is None:
        assert rule["source"] == {"any"}
    else:
        assert "any" not in rule["source"] and config.prefixes(source_groups) == sources
    assert rule["action"] == {"allow"}
    # The rule names every group nobody else holds: the tag's groups, or the family groups.
    assert rule["destination"] == config.top_groups() - source_groups
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


# --- zones, sources and placement, read back by pan-os-python ------------------------------
ADMIN_RULES = ("allow-dns", "deny-all")  # an admin rulebase that ends in a deny rule
MOVE_REQUEST = re.compile(r"^\s*type=config&action=move&(\S+)$", re.M)


# Set-command words -> pan-os-python's SecurityRule parameters.
PANOS_KEYS = {
    "from": "fromzone",
    "to": "tozone",
    "source": "source",
    "destination": "destination",
    "application": "application",
    "service": "service",
    "action": "action",
}


def expected_order(position: str, ours: list[str]) -> list[str]:
    """Where the rules must end up in ADMIN_RULES, worked out from the position's words."""
    where, _, ref = position.partition(" ")
    admin = list(ADMIN_RULES)
    if where == "top":
        return ours + admin
    if where == "bottom":
        return admin + ours
    index = admin.index(ref) + (where == "after")
    return admin[:index] + ours + admin[index:]


def panos_vsys(xml_text: str) -> tuple[Firewall, dict[str, str], dict[str, list[str]]]:
    """The snippet's vsys read by pan-os-python: a firewall holding the admin's rules and,
    appended as an XML set appends it, tagsync's rule; plus its address objects and groups."""
    root = ET.fromstring(xml_text)
    vsys = root.find("./devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']")
    assert vsys is not None
    firewall = Firewall()  # no host: nothing is sent anywhere, the objects only
    rulebase = Rulebase()
    firewall.add(rulebase)
    for name in ADMIN_RULES:
        rulebase.add(SecurityRule(name, fromzone=["any"], tozone=["any"], action="allow"))
    for rule in SecurityRule().refreshall_from_xml(vsys.find("./rulebase/security/rules")):
        rulebase.add(rule)
    objects = AddressObject().refreshall_from_xml(vsys.find("./address"))
    groups = AddressGroup().refreshall_from_xml(vsys.find("./address-group"))
    assert all(o.type == "ip-netmask" for o in objects)
    return (
        firewall,
        {o.name: o.value for o in objects},
        {g.name: list(g.static_value) for g in groups},
    )


def apply_move_request(firewall: Firewall, xml_text: str) -> None:
    """Send the snippet's move request to pan-os-python's own move (the tree only)."""
    (query,) = MOVE_REQUEST.findall(xml_text)
    params = {k: v[0] for k, v in parse_qs(query, strict_parsing=True).items()}
    assert set(params) <= {"xpath", "where", "dst"}
    name = re.fullmatch(r".*/rulebase/security/rules/entry\[@name='([^']+)'\]", params["xpath"])
    assert name and params["xpath"].startswith(
        "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']/"
    )
    rule = firewall.find(name.group(1), SecurityRule, recursive=True)
    assert rule is not None
    rule.move(params["where"], params.get("dst"), update=False)


def rule_order(firewall: Firewall) -> list[str]:
    (rulebase,) = firewall.children
    return [rule.name for rule in rulebase.children]


SOURCES = ["10.0.0.20", "10.0.1.10-10.0.1.12", "fd00:0:0:5::/64"]


def source_prefixes() -> set[str]:
    """The SOURCES as networks, expanded by the standard library alone."""
    first, last = (ipaddress.ip_address(a) for a in SOURCES[1].split("-"))
    return {
        str(ipaddress.ip_network(SOURCES[0])),
        *(str(n) for n in ipaddress.summarize_address_range(first, last)),
        str(ipaddress.ip_network(SOURCES[2])),
    }


@pytest.mark.parametrize("position", ["top", "bottom", "before deny-all", "after allow-dns"])
def test_pan_os_python_finds_the_zones_sources_and_position(position: str) -> None:
    settings = render_settings(
        {
            "paloalto": {
                "from_zone": "inside",
                "to_zone": "outside",
                "sources": SOURCES,
                "position": position,
            }
        }
    )
    files = render_formats(load(SAMPLE_NEW), [TAG], ["paloalto"], settings=settings)
    xml_text = files["paloalto/config.xml"]
    firewall, objects, groups = panos_vsys(xml_text)
    rule = firewall.find("tagsync-https", SecurityRule, recursive=True)
    assert rule is not None
    assert (rule.fromzone, rule.tozone) == (["inside"], ["outside"])
    assert (rule.application, rule.service, rule.action) == (["ssl"], ["service-https"], "allow")
    assert {objects[m] for g in rule.source for m in groups[g]} == source_prefixes()
    assert {objects[m] for g in rule.destination for m in groups[g]} == json_prefixes(
        SAMPLE_NEW, TAG
    )
    assert not set(rule.source) & set(rule.destination)

    # The XML is placed by its move request; the set commands by their move line.
    assert rule_order(firewall) == [*ADMIN_RULES, "tagsync-https"]  # where a set leaves it
    apply_move_request(firewall, xml_text)
    want = expected_order(position, ["tagsync-https"])
    assert rule_order(firewall) == want
    config = check_full(
        files["paloalto/set-commands.txt"],
        2500,
        zones=("inside", "outside"),
        sources=source_prefixes(),
        admin_rules=ADMIN_RULES,
    )
    assert config.order == want

    # Round trip: the rule the set commands build is the rule pan-os-python read from XML
    # (source-user and category: PAN-OS's default "any", written out in the XML).
    built = config.rules["tagsync-https"]
    (action,) = built["action"]
    lists = {PANOS_KEYS[key]: sorted(values) for key, values in built.items() if key != "action"}
    from_set = SecurityRule("tagsync-https", action=action, **lists)
    keys = [*PANOS_KEYS.values(), "source_user", "category"]

    def comparable(r: SecurityRule) -> dict[str, object]:
        return {
            k: sorted(v) if isinstance(v, list) else v for k, v in r.about().items() if k in keys
        }

    assert comparable(from_set) == comparable(rule)


def test_defaults_are_trust_to_untrust_from_any_source_at_the_top() -> None:
    files = render_formats(load(SAMPLE_NEW), [TAG], ["paloalto"])
    firewall, _, _ = panos_vsys(files["paloalto/config.xml"])
    rule = firewall.find("tagsync-https", SecurityRule, recursive=True)
    assert (rule.fromzone, rule.tozone, rule.source) == (["trust"], ["untrust"], ["any"])
    apply_move_request(firewall, files["paloalto/config.xml"])
    assert rule_order(firewall) == ["tagsync-https", *ADMIN_RULES]
    text = files["paloalto/set-commands.txt"]
    config = check_full(text, 2500, admin_rules=ADMIN_RULES)
    assert config.order == ["tagsync-https", *ADMIN_RULES]
    assert "never deletes" in text and "incremental-set-commands.txt" in text


def test_readme_states_the_defaults_that_render() -> None:
    """README's render.paloalto and render.windows knob lines list every setting that has a
    default, each with the default that renders (unset-by-default ones are in a comment)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = re.search(r"```yaml\nrender:\n(.*?)```", readme, re.S)
    assert block
    section = yaml.safe_load("render:\n" + block.group(1))["render"]
    defaults = {
        "paloalto": dataclasses.asdict(PaloAltoOptions()),
        "windows": dataclasses.asdict(WindowsOptions()),
    }
    for fmt, want in defaults.items():
        stated = section[fmt]
        assert set(stated) == {key for key, value in want.items() if value != ()}, fmt
        for key, value in stated.items():
            value = tuple(value) if isinstance(value, list) else value
            assert value == want[key], f"README render.{fmt}.{key}: {value!r} != {want[key]!r}"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"position": "middle"}, "position"),
        ({"position": "before"}, "position"),
        ({"position": "after deny all"}, "position"),
        ({"position": "before x\nset y"}, "position"),
        ({"position": "after tagsync-https"}, "relative to itself"),
        ({"position": ["top"]}, "position"),
        ({"sources": ["10.0.0.300"]}, "sources"),
        ({"sources": ["10.0.0.1; delete rulebase"]}, "sources"),
        ({"sources": "10.0.0.0/8 any"}, "sources"),
        ({"sources": []}, "sources"),  # never "no sources" read as "any source"
        ({"from_zone": "trust\nset x"}, "from_zone"),
        ({"to_zone": "un trust"}, "to_zone"),
    ],
)
def test_bad_placement_zones_and_sources_are_config_errors(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        render_settings({"paloalto": section})


def test_set_commands_and_xml_agree_for_any_position() -> None:
    for position in ("top", "bottom", "before deny-all", "after allow-dns"):
        settings = render_settings({"paloalto": {"position": position}})
        files = render_formats(load(SAMPLE_NEW), [TAG], ["paloalto"], settings=settings)
        moves = [
            ln for ln in files["paloalto/set-commands.txt"].splitlines() if ln.startswith("move")
        ]
        assert moves == [f"move rulebase security rules tagsync-https {position}"]
        (query,) = MOVE_REQUEST.findall(files["paloalto/config.xml"])
        where, _, ref = position.partition(" ")
        assert query.endswith(f"&where={where}" + (f"&dst={ref}" if ref else ""))


def test_mdi_sensor_rules_take_the_zones_and_are_placed_in_order() -> None:
    settings = render_settings(
        {
            "paloalto": {"from_zone": "dc", "to_zone": "wan", "position": "before deny-all"},
            "mdi-sensor": {
                "dns_servers": ["10.0.0.53"],
                "radius_servers": ["10.0.5.10"],
                "device_subnets": ["10.0.0.0/16"],
                "sensors": ["10.0.0.20"],
            },
        }
    )
    files = render_formats(load(SAMPLE_NEW), [TAG], ["mdi-sensor"], settings=settings)
    config = PanConfig(order=list(ADMIN_RULES))
    config.rules.update({name: {"action": {"deny"}} for name in ADMIN_RULES})
    text = files["mdi-sensor/paloalto-set-commands.txt"]
    config.apply(text)
    ours = ["tagsync-mdi-ssl", "tagsync-mdi-dns", "tagsync-mdi-devices", "tagsync-mdi-radius"]
    assert config.order == expected_order("before deny-all", ours)
    assert all(config.rules[r]["from"] == {"dc"} and config.rules[r]["to"] == {"wan"} for r in ours)
    assert "never deletes" in text


def test_incremental_keeps_an_object_that_is_also_a_source() -> None:
    from conftest import SAMPLE_OLD

    removed = sorted(json_prefixes(SAMPLE_OLD, TAG) - json_prefixes(SAMPLE_NEW, TAG))
    assert removed, "the samples must drop a prefix for this test"
    settings = render_settings({"paloalto": {"sources": [removed[0]]}})
    old, new = load(SAMPLE_OLD), load(SAMPLE_NEW)
    full_old = render_formats(old, [TAG], ["paloalto"], settings=settings)
    changes = diff_service_tags(old, new, [TAG])
    files = render_formats(new, [TAG], ["paloalto"], settings=settings, changes=changes)
    config = check_full(full_old["paloalto/set-commands.txt"], 2500, sources={removed[0]})
    config.apply(files["paloalto/incremental-set-commands.txt"])  # refuses deleting a used one
    target = check_full(files["paloalto/set-commands.txt"], 2500, sources={removed[0]})
    assert config.objects == target.objects and config.groups == target.groups
    assert removed[0] in config.objects.values()


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ("position: before tagsync-https", "render.paloalto.position"),
        ("position: middle", "render.paloalto.position"),
        ("sources: [10.0.0.999]", "render.paloalto.sources"),
        ("from_zone: 'a b'", "render.paloalto.from_zone"),
    ],
)
def test_cli_refuses_a_bad_setting_in_one_line_with_exit_2(
    yaml_text: str, words: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from tagsync.cli import app

    config = tmp_path / "tagsync.yaml"
    config.write_text(f"render:\n  paloalto:\n    {yaml_text}\n")
    result = CliRunner().invoke(
        app,
        ["render", "paloalto", "-f", str(SAMPLE_NEW), "--config", str(config), "--out", "-",
         "--state-dir", str(tmp_path / "state")],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""
