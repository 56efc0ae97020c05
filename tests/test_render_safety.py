"""Hostile tag names, file fields and config values are refused or quoted; empty lists guarded."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW

from tagsync.errors import ConfigError, DataError, GuardError
from tagsync.formats.iptables import IptablesOptions
from tagsync.formats.registry import BUILTIN, site_neutral
from tagsync.formats.windows import WindowsOptions
from tagsync.model import ServiceTags, Tag, parse_service_tags
from tagsync.render import render_formats, render_settings

FORMATS = tuple(BUILTIN)
SITE_NEUTRAL_FORMATS = site_neutral()

HOSTILE = [
    'a"b',
    "a'b",
    "line\nbreak",
    "cr\rreturn",
    "$(reboot)",
    "`whoami`",
    "x; rm -rf /",
    "\u2019quote",
    "nul\x00byte",
    "A" * 300,
]
MDI = {
    "mdi-sensor": {
        "dns_servers": ["10.0.0.53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16"],
        "sensors": ["10.0.0.20"],
    },
    "proxy": {"host": "proxy.example.net"},
}


def service_tags(*tags: Tag, cloud: str = "Public") -> ServiceTags:
    return ServiceTags(
        cloud=cloud,
        change_number=1,
        tags={t.name: t for t in tags},
        sha256=hashlib.sha256(b"test").hexdigest(),
        source="test",
    )


def document(name: str, prefixes: list[str], cloud: str = "Public") -> bytes:
    entry = {
        "name": name,
        "id": name,
        "properties": {"changeNumber": 1, "addressPrefixes": prefixes},
    }
    return json.dumps({"changeNumber": 1, "cloud": cloud, "values": [entry]}).encode()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_tag_names_in_the_file_are_refused(name: str) -> None:
    with pytest.raises(DataError):
        parse_service_tags(document(name, ["1.2.3.0/24"]))


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_tag_objects_are_refused_by_the_renderer(name: str) -> None:
    st = service_tags(Tag(name=name, prefixes=("1.2.3.0/24",), change_number=1))
    for fmt in SITE_NEUTRAL_FORMATS:
        with pytest.raises(DataError):
            render_formats(st, [name], [fmt])


@pytest.mark.parametrize(
    "prefix", ["1.2.3.0/24; reboot", "1.2.3.4/24", "1.2.3.0/24\n-A OUTPUT -j ACCEPT", "any"]
)
def test_hostile_prefixes_are_refused_by_the_renderer(prefix: str) -> None:
    st = service_tags(Tag(name="Evil", prefixes=(prefix,), change_number=1))
    with pytest.raises(DataError):
        render_formats(st, ["Evil"], ["iptables"])


@pytest.mark.parametrize("cloud", ["Public\n-A OUTPUT -j ACCEPT", "$(reboot)", "x'y", "a" * 80])
def test_hostile_cloud_field_is_refused(cloud: str) -> None:
    st = parse_service_tags(document("Tag", ["1.2.3.0/24"], cloud=cloud))
    for fmt in SITE_NEUTRAL_FORMATS:
        with pytest.raises(DataError):
            render_formats(st, ["Tag"], [fmt])


def test_hostile_change_number_and_digest_are_refused() -> None:
    tag = Tag(name="T", prefixes=("1.2.3.0/24",), change_number="1\nx")  # type: ignore[arg-type]
    with pytest.raises(DataError):
        render_formats(service_tags(tag), ["T"], ["windows"])
    good = Tag(name="T", prefixes=("1.2.3.0/24",), change_number=1)
    st = ServiceTags("Public", 1, {"T": good}, sha256="abc\n-A", source="x")
    with pytest.raises(DataError):
        render_formats(st, ["T"], ["iptables"])


@pytest.mark.parametrize(
    "section",
    [
        {"iptables": {"chain": "X" * 29}},
        {"iptables": {"chain": "OUT; reboot"}},
        {"iptables": {"set_v4": "s" * 28}},
        {"iptables": {"set_v6": "a b"}},
        {"nftables": {"table": "t;flush ruleset"}},
        {"paloalto": {"name_prefix": 'x"'}},
        {"paloalto": {"name_prefix": "p" * 17}},
        {"paloalto": {"rule_name": "r\nset x"}},
        {"paloalto": {"group_member_limit": 0}},
        {"paloalto": {"group_member_limit": True}},
        {"windows": {"group": "g\nRemove-Item C:\\"}},
        {"windows": {"group": "\u2018g"}},
        {"windows": {"group": "g" * 101}},
        {"windows": {"chunk_size": 1001}},
        {"expressroute": {"resource_group": "$(reboot)"}},
        {"expressroute": {"circuit": "c`x`"}},
        {"expressroute": {"communities": ["12076:5220; reboot"]}},
        {"expressroute": {"location": "West Europe"}},
        {"mdi-sensor": {"dns_servers": ["10.0.0.53"]}},
        {"mdi-sensor": {**MDI["mdi-sensor"], "dns_servers": []}},
        {"mdi-sensor": {**MDI["mdi-sensor"], "device_subnets": ["10.0.0.0/33"]}},
        {"mdi-sensor": {**MDI["mdi-sensor"], "sensors": ["10.0.0.1; reboot"]}},
        {"unknown": {}},
        {"iptables": {"chian": "X"}},
        ["not", "a", "mapping"],
    ],
)
def test_bad_config_values_are_config_errors(section: Any) -> None:
    with pytest.raises(ConfigError):
        render_settings(section)


def test_options_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError):
        IptablesOptions(chain="bad chain")
    with pytest.raises(ConfigError):
        WindowsOptions(chunk_size=5000)


def test_quotes_in_config_values_are_escaped_where_allowed() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    settings = render_settings({"windows": {"group": "it's $(x) `y`; z"}})
    text = render_formats(st, ["AzureAdvancedThreatProtection"], ["windows"], settings=settings)
    script = text["windows/rules.ps1"]
    assert "$group = 'it''s $(x) `y`; z'" in script


def test_very_long_tag_name_renders_valid_names() -> None:
    name = "Service" + "x" * 180 + ".Region"
    st = service_tags(Tag(name=name, prefixes=("1.2.3.0/24", "2001:db8::/32"), change_number=7))
    files = render_formats(st, [name], list(SITE_NEUTRAL_FORMATS))
    for line in files["paloalto/set-commands.txt"].splitlines():
        if not line.startswith("#"):
            assert all(len(word) <= 63 for word in line.split()), line


def test_mdi_sensor_without_address_groups_is_a_clear_error() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    with pytest.raises(ConfigError, match="dns_servers"):
        render_formats(st, ["AzureAdvancedThreatProtection"], ["mdi-sensor"])


def test_unknown_format_and_no_tags_are_errors() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    with pytest.raises(ConfigError):
        render_formats(st, ["AzureAdvancedThreatProtection"], ["cisco"])
    with pytest.raises(ConfigError):
        render_formats(st, [], ["iptables"])


def empty_tags() -> ServiceTags:
    return parse_service_tags(document("Empty", []))


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "proxy"])
def test_empty_prefix_list_is_refused(fmt: str) -> None:
    with pytest.raises(GuardError, match="--allow-empty"):
        render_formats(empty_tags(), ["Empty"], [fmt], settings=render_settings(MDI))
    with pytest.raises(GuardError, match="--allow-empty"):
        render_formats(empty_tags(), ["Empty"], [fmt, "proxy"], settings=render_settings(MDI))


def test_proxy_format_lists_no_prefixes_so_an_empty_tag_is_fine() -> None:
    files = render_formats(empty_tags(), ["Empty"], ["proxy"], settings=render_settings(MDI))
    assert "dstdomain .atp.azure.com" in files["proxy/squid.conf"]


def test_allow_empty_renders_no_allow_rule_at_all(tmp_path: Path) -> None:
    files = render_formats(
        empty_tags(), ["Empty"], list(FORMATS), settings=render_settings(MDI), allow_empty=True
    )
    assert "New-NetFirewallRule" not in files["windows/rules.ps1"]
    assert "rulebase" not in files["paloalto/set-commands.txt"]
    assert "<rulebase>" not in files["paloalto/config.xml"]
    assert files["paloalto/edl.txt"] == ""
    assert "ACCEPT" not in files["iptables/iptables.rules"]
    assert "dport 443 accept" not in files["nftables/tagsync.nft"]
    mdi_ps = files["mdi-sensor/windows-rules.ps1"]
    assert "'443'" not in mdi_ps  # no HTTPS rule to "any" address
    assert "tagsync-mdi-ssl" not in files["mdi-sensor/paloalto-set-commands.txt"]
    if shutil.which("nft") and shutil.which("unshare"):
        for name in ("nftables/tagsync.nft", "mdi-sensor/nftables.nft"):
            path = tmp_path / name.replace("/", "_")
            path.write_text(files[name])
            result = subprocess.run(
                ["unshare", "-n", "nft", "-c", "-f", str(path)], capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr


def test_output_is_byte_identical_and_has_no_timestamp() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes(), source="a")
    again = parse_service_tags(SAMPLE_NEW.read_bytes(), source="b")
    settings = render_settings(MDI)
    first = render_formats(st, ["AzureAdvancedThreatProtection"], FORMATS, settings=settings)
    second = render_formats(again, ["AzureAdvancedThreatProtection"], FORMATS, settings=settings)
    assert first == second
    for text in first.values():
        assert "2025-" not in text and "UTC" not in text


def test_user_template_with_undefined_variable_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "windows").mkdir()
    (tmp_path / "windows" / "rules.ps1.j2").write_text("{{ no_such_value }}\n")
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    with pytest.raises(ConfigError, match="no_such_value"):
        render_formats(st, ["AzureAdvancedThreatProtection"], ["windows"], templates_dir=tmp_path)
