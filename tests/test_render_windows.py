"""The Windows Firewall scripts, read back twice: by a strict parser of the only lines they
may contain, and by a real PowerShell grammar (tree-sitter-powershell) that must find no
ERROR or MISSING node and shows the make-before-break order in the syntax tree."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell
from conftest import SAMPLE_NEW, SAMPLE_OLD, public

from tagsync.formats.windows import WindowsOptions
from tagsync.model import parse_service_tags
from tagsync.render import RenderSettings, render_formats, render_settings

QUOTED = r"'(?:[^'\u2018-\u201b]|'')*'"
TAG = "AzureAdvancedThreatProtection"
MDI = {
    "dns_servers": ["10.0.0.53"],
    "radius_servers": ["10.0.5.10"],
    "device_subnets": ["10.0.0.0/16", "fd00::/48"],
    "sensors": ["10.0.0.20"],
}
# Every line outside the rule blocks, in order: before the rules ...
HEAD = [
    "#Requires -RunAsAdministrator",
    "Set-StrictMode -Version Latest",
    "$ErrorActionPreference = 'Stop'",
    "$group = <quoted>",
    "$version = <version>",
    "$previous = @(Get-NetFirewallRule -Group"
    " ([System.Management.Automation.WildcardPattern]::Escape($group))"
    " -ErrorAction SilentlyContinue | Where-Object { $_.Group -eq $group })",
    "$run = 1",
    'while (@($previous | Where-Object { $_.Name.EndsWith("-$version-$run") }).Count -gt 0)'
    " { $run++ }",
    '$suffix = "-$version-$run"',
    "$created = @()",
    "try {",
]
# ... and after them: undo on failure, then remove the previous rules.
TAIL = [
    "} catch {",
    "    $failure = $_",
    "    foreach ($made in $created)"
    " { Remove-NetFirewallRule -InputObject $made -ErrorAction SilentlyContinue }",
    "    [Console]::Error.WriteLine(\"tagsync: creating the rules of group '$group' failed,"
    ' the previous rules are unchanged: $failure")',
    "    exit 1",
    "}",
    "try {",
    "    foreach ($old in $previous) { Remove-NetFirewallRule -InputObject $old }",
    "} catch {",
    "    [Console]::Error.WriteLine(\"tagsync: the new rules of group '$group' are in place,"
    ' but removing a previous rule failed (run again to retry): $_")',
    "    exit 2",
    "}",
]
KEYS = {
    "Name",
    "DisplayName",
    "Group",
    "Direction",
    "Action",
    "Protocol",
    "RemotePort",
    "LocalPort",
    "Profile",
}
COMMANDS = {
    "Set-StrictMode",
    "Get-NetFirewallRule",
    "Where-Object",
    "New-NetFirewallRule",
    "Remove-NetFirewallRule",
}
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def unquote(literal: str) -> str:
    assert re.fullmatch(QUOTED, literal), literal
    return literal[1:-1].replace("''", "'")


# --- the real grammar ----------------------------------------------------------------------
def nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from nodes(child)


def text_of(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode()


def syntax_tree(text: str) -> tree_sitter.Node:
    """The script's syntax tree; fails on any ERROR or MISSING node (named with its line)."""
    root = PARSER.parse(text.encode()).root_node
    bad = [
        f"line {n.start_point[0] + 1}: {'MISSING' if n.is_missing else 'ERROR'} {text_of(n)[:60]!r}"
        for n in nodes(root)
        if n.is_error or n.is_missing
    ]
    assert not bad and not root.has_error, bad
    return root


def commands(node: tree_sitter.Node, name: str | None = None) -> list[tree_sitter.Node]:
    found = [n for n in nodes(node) if n.type == "command"]
    return [n for n in found if name is None or text_of(n.child_by_field_name("command_name")
            or n.children[0]) == name]  # fmt: skip


def check_make_before_break(root: tree_sitter.Node) -> None:
    """In the syntax tree: the previous rules are read first, every rule is created inside the
    first try, its catch removes only what this run created and exits 1, and the previous
    rules are removed only in the second try, after every creation."""
    names = {text_of(n.children[0]) for n in commands(root)}
    assert names <= COMMANDS, names - COMMANDS
    top = root.named_children[-1].named_children  # the script's statements, in order
    tries = [i for i, s in enumerate(top) if s.type == "try_statement"]
    assert len(tries) == 2, "one try for creating, one for removing the previous rules"
    create, remove = top[tries[0]], top[tries[1]]
    (get,) = commands(root, "Get-NetFirewallRule")
    reading = next(i for i, s in enumerate(top) if s.start_byte <= get.start_byte < s.end_byte)
    assert reading < tries[0] and text_of(top[reading]).startswith("$previous = ")

    block, catches = create.named_children
    news = commands(root, "New-NetFirewallRule")
    assert all(block.start_byte <= n.start_byte < block.end_byte for n in news)
    undo = text_of(catches)
    removes = commands(root, "Remove-NetFirewallRule")
    assert len(removes) == 2
    assert [text_of(n) for n in removes[:1]] == [
        "Remove-NetFirewallRule -InputObject $made -ErrorAction SilentlyContinue"
    ]
    assert "foreach ($made in $created)" in undo and undo.rstrip("}\n ").endswith("exit 1")
    assert catches.start_byte <= removes[0].start_byte < catches.end_byte

    block, catches = remove.named_children
    assert text_of(removes[1]) == "Remove-NetFirewallRule -InputObject $old"
    assert block.start_byte <= removes[1].start_byte < block.end_byte
    assert "foreach ($old in $previous)" in text_of(block)
    assert text_of(catches).rstrip("}\n ").endswith("exit 2")
    assert all(n.end_byte <= remove.start_byte for n in news)


# --- the strict line parser ----------------------------------------------------------------
def parse_script(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (group, rules); fail on any line outside the expected grammar or order, or on
    anything the PowerShell grammar does not accept."""
    check_make_before_break(syntax_tree(text))
    lines = text.splitlines()
    assert lines[0].startswith("# Generated by tagsync")
    frame: list[str] = []
    group = ""
    rules: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    in_addresses = in_rules = False
    for line in lines:
        assert (line.isascii() and line.isprintable()) or line == "", repr(line)
        if in_addresses:
            if line == "        )":
                in_addresses = False
                continue
            match = re.fullmatch(rf"            ({QUOTED})", line)
            assert match, f"bad address line {line!r}"
            assert current is not None
            current["RemoteAddress"].append(unquote(match.group(1)))
            continue
        if not line or (line.lstrip().startswith("#") and line != "#Requires -RunAsAdministrator"):
            continue
        if in_rules and line == "    $rule = @{":
            assert current is None
            current = {"RemoteAddress": []}
            continue
        if current is not None:
            if line == "        RemoteAddress = @(":
                in_addresses = True
                continue
            if match := re.fullmatch(rf"        Name += ({QUOTED}) \+ \$suffix", line):
                assert "Name" not in current
                current["Name"] = unquote(match.group(1))
                continue
            if match := re.fullmatch(rf"        (\w+) += (\$group|{QUOTED})", line):
                key, value = match.groups()
                assert key in KEYS and key not in current, line
                current[key] = group if value == "$group" else unquote(value)
                continue
            if line == "    }":
                continue
            assert line == "    $created += New-NetFirewallRule @rule", line
            rules.append(current)
            current = None
            continue
        if match := re.fullmatch(rf"\$group = ({QUOTED})", line):
            group = unquote(match.group(1))
            line = "$group = <quoted>"
        elif re.fullmatch(r"\$version = 'v[0-9a-f]{8}'", line):
            line = "$version = <version>"
        frame.append(line)
        in_rules = frame == HEAD
    assert frame == HEAD + TAIL
    assert current is None and group
    return group, rules


def script_version(text: str) -> str:
    match = re.search(r"^\$version = '(v[0-9a-f]{8})'$", text, re.M)
    assert match
    return match.group(1)


def json_prefixes(path: Path, tag: str) -> set[str]:
    document = json.loads(path.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == tag)
    return {str(ipaddress.ip_network(p)) for p in entry["properties"]["addressPrefixes"]}


def check_rules(rules: list[dict[str, Any]], group: str, chunk: int) -> set[str]:
    names = [r["Name"] for r in rules]
    assert len(names) == len(set(names))
    addresses: set[str] = set()
    for rule in rules:
        assert rule["Group"] == group and rule["Action"] == "Allow"
        assert rule["Direction"] == "Outbound" and rule["Protocol"] == "TCP"
        assert rule["RemotePort"] == "443"
        assert 1 <= len(rule["RemoteAddress"]) <= chunk
        addresses.update(rule["RemoteAddress"])
    return addresses


def render_windows(path: Path, settings: RenderSettings | None = None, **kw: Any) -> str:
    st = parse_service_tags(path.read_bytes())
    return render_formats(st, [TAG], ["windows"], settings=settings, **kw)["windows/rules.ps1"]


def test_sample_script_parses_and_covers_the_tag() -> None:
    group, rules = parse_script(render_windows(SAMPLE_NEW))
    assert group == "tagsync"
    got = check_rules(rules, group, 1000)
    assert got == json_prefixes(SAMPLE_NEW, TAG)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [1000, 333])
def test_azurecloud_is_chunked(chunk: int) -> None:
    path = public("20251006")
    st = parse_service_tags(path.read_bytes())
    options = WindowsOptions(chunk_size=chunk, group="Azure 'tags' $(x) `y`")
    settings = RenderSettings().with_options("windows", options)
    text = render_formats(st, ["AzureCloud"], ["windows"], settings=settings)["windows/rules.ps1"]
    group, rules = parse_script(text)
    assert group == "Azure 'tags' $(x) `y`"  # quoted, so PowerShell sees it literally
    want = json_prefixes(path, "AzureCloud")
    assert check_rules(rules, group, chunk) == want
    assert len(rules) == -(-len(want) // chunk)
    assert all(len(r["RemoteAddress"]) == chunk for r in rules[:-1])
    assert [r["Name"] for r in rules][:2] == [
        "Azure 'tags' $(x) `y`-AzureCloud-001",
        "Azure 'tags' $(x) `y`-AzureCloud-002",
    ]


def test_mdi_sensor_script_has_every_port() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    settings = render_settings({"mdi-sensor": MDI})
    files = render_formats(st, [TAG], ["mdi-sensor"], settings=settings)
    _, rules = parse_script(files["mdi-sensor/windows-rules.ps1"])
    ports = {
        (r["Direction"], r["Protocol"], r.get("RemotePort") or r.get("LocalPort")) for r in rules
    }
    assert ports == {
        ("Outbound", "TCP", "443"),
        ("Outbound", "TCP", "53"),
        ("Outbound", "UDP", "53"),
        ("Outbound", "TCP", "445"),
        ("Outbound", "UDP", "445"),
        ("Inbound", "UDP", "1813"),
        ("Inbound", "TCP", "444"),
        ("Outbound", "TCP", "135"),
        ("Outbound", "UDP", "137"),
        ("Outbound", "TCP", "3389"),
    }
    radius = next(r for r in rules if r.get("LocalPort") == "1813")
    assert radius["RemoteAddress"] == ["10.0.5.10/32"]
    assert all(r["RemoteAddress"] for r in rules)  # never an empty list (that means Any)


HOSTILE_GROUPS = [
    "tagsync",
    "it's $(Remove-Item C:\\) `n; }",
    "x' ; Remove-NetFirewallRule -All ; '",
    "tag*[sync]?",  # wildcard characters: escaped for -Group, then compared exactly
    '"}) catch { exit 0 } #',
]


@pytest.mark.parametrize("group", HOSTILE_GROUPS)
def test_every_script_passes_the_powershell_grammar(group: str) -> None:
    settings = render_settings(
        {
            "windows": {"group": group, "chunk_size": 7},
            "mdi-sensor": {**MDI, "windows_group": group},
        }
    )
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    files = render_formats(st, [TAG], ["windows", "mdi-sensor"], settings=settings)
    for name in ("windows/rules.ps1", "mdi-sensor/windows-rules.ps1"):
        got, rules = parse_script(files[name])
        assert got == group and rules
        # The group reaches PowerShell only as one single-quoted literal: the tree holds
        # exactly the commands the frame runs, however the group is spelt.
        root = syntax_tree(files[name])
        assert len(commands(root, "Remove-NetFirewallRule")) == 2
        assert len(commands(root, "Get-NetFirewallRule")) == 1
    assert len(parse_script(files["windows/rules.ps1"])[1]) == -(-len(json_prefixes(
        SAMPLE_NEW, TAG)) // 7)  # fmt: skip


def test_an_empty_allow_list_still_parses_and_only_removes_the_previous_rules() -> None:
    document = {"changeNumber": 1, "cloud": "Public", "values": [
        {"name": "T", "id": "T", "properties": {"changeNumber": 1, "addressPrefixes": []}}
    ]}  # fmt: skip
    st = parse_service_tags(json.dumps(document).encode())
    files = render_formats(st, ["T"], ["windows"], allow_empty=True)
    group, rules = parse_script(files["windows/rules.ps1"])
    assert group == "tagsync" and rules == []


def test_the_grammar_check_catches_broken_powershell() -> None:
    text = render_windows(SAMPLE_NEW)
    syntax_tree(text)
    for broken in (
        text.replace("    }\n    $created += ", "    \n    $created += ", 1),  # hashtable open
        text.replace("RemoteAddress = @(", "RemoteAddress = @", 1),
        text.replace('"-$version-$run"', '"-$version-$run', 1),
        text.replace("} catch {", "} catch", 1),
    ):
        assert broken != text
        with pytest.raises(AssertionError):
            syntax_tree(broken)


def test_creating_happens_before_removing_in_the_tree() -> None:
    text = render_windows(SAMPLE_NEW)
    # A script that removed the previous rules first would fail the order check.
    wrong = text.replace(
        "try {\n    $rule",
        "foreach ($old in $previous) { Remove-NetFirewallRule -InputObject "
        "$old }\ntry {\n    $rule",
        1,
    )
    assert wrong != text
    syntax_tree(wrong)
    with pytest.raises(AssertionError):
        check_make_before_break(syntax_tree(wrong))


def test_version_is_the_same_for_the_same_rules_and_new_for_new_ones() -> None:
    new, again = render_windows(SAMPLE_NEW), render_windows(SAMPLE_NEW)
    assert new == again  # byte-identical, version included
    old = render_windows(SAMPLE_OLD)
    # Independently: the two sample files list different prefixes for the tag ...
    assert json_prefixes(SAMPLE_OLD, TAG) != json_prefixes(SAMPLE_NEW, TAG)
    # ... so the new file's rules get names the old file's rules never had.
    assert script_version(old) != script_version(new)
    chunked = render_windows(
        SAMPLE_NEW, RenderSettings().with_options("windows", WindowsOptions(chunk_size=50))
    )
    assert script_version(chunked) != script_version(new)
    # The header (source file digest, changeNumber) is not part of the version: only rules.
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    settings = render_settings({"mdi-sensor": MDI})
    mdi = render_formats(st, [TAG], ["mdi-sensor"], settings=settings)
    assert script_version(mdi["mdi-sensor/windows-rules.ps1"]) != script_version(new)
