"""The format registry: each format's declared files, its own config section, the deprecated
keys of the previous release, user formats, and `tagsync formats`."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.formats.base import Format, FormatOptions
from tagsync.formats.iptables import IptablesOptions
from tagsync.formats.mdi_sensor import MdiSensorOptions
from tagsync.formats.nftables import NftablesOptions
from tagsync.formats.registry import BUILTIN, resolve_formats, site_neutral
from tagsync.model import parse_service_tags
from tagsync.render import packaged_templates_dir, render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"
SITE = {
    "mdi-sensor": {
        "dns_servers": ["10.0.0.53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16"],
        "sensors": ["10.0.0.20"],
    },
    "proxy": {"host": "proxy.example.net"},
}


def warnings_of(section: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    said: list[str] = []
    return render_settings(section, warn=said.append, **kwargs), said


@pytest.mark.parametrize("fmt", list(BUILTIN.values()), ids=list(BUILTIN))
def test_each_format_renders_exactly_its_declared_files(fmt: Format) -> None:
    old = parse_service_tags(SAMPLE_OLD.read_bytes())
    new = parse_service_tags(SAMPLE_NEW.read_bytes())
    settings = render_settings(SITE)
    plain = render_formats(new, [TAG], [fmt.name], settings=settings)
    assert list(plain) == list(fmt.outputs)
    with_previous = render_formats(
        new, [TAG], [fmt.name], settings=settings, changes=diff_service_tags(old, new, [TAG])
    )
    assert list(with_previous) == [*fmt.outputs, *fmt.incremental_outputs]
    assert all(text.strip() for text in with_previous.values())


def test_every_shipped_template_belongs_to_a_format() -> None:
    shipped = {
        str(path.relative_to(packaged_templates_dir())).removesuffix(".j2")
        for path in packaged_templates_dir().rglob("*.j2")
        if not path.name.startswith("_")
    }
    declared = {out for f in BUILTIN.values() for out in (*f.outputs, *f.incremental_outputs)}
    assert shipped == declared


def test_declarations_are_consistent() -> None:
    for name, fmt in BUILTIN.items():
        assert fmt.name == name and fmt.summary and fmt.builtin
        assert all(out.startswith(f"{name}/") for out in (*fmt.outputs, *fmt.incremental_outputs))
        keys = {item.name for item in dataclasses.fields(fmt.options)}
        assert set(fmt.needs) <= keys
        assert issubclass(fmt.options, FormatOptions)
        fmt.options()  # the defaults pass their own checks
        # A format that needs site settings cannot be part of `all`.
        assert not (fmt.needs and fmt.in_all)
    assert site_neutral() == tuple(name for name, f in BUILTIN.items() if f.in_all)
    assert {"iptables", "nftables", "paloalto", "windows", "expressroute"} <= set(site_neutral())


def test_each_format_reads_its_own_section() -> None:
    settings, said = warnings_of(
        {"iptables": {"chain": "MY-OUT"}, "nftables": {"table": "filter", "set_v4": "ms4"}}
    )
    assert said == []
    assert settings.get(IptablesOptions).chain == "MY-OUT"
    assert settings.get(NftablesOptions) == NftablesOptions(table="filter", set_v4="ms4")
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    text = render_formats(st, [TAG], ["nftables"], settings=settings)["nftables/tagsync.nft"]
    assert "add table inet filter\n" in text and "add set inet filter ms4 {" in text


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"iptables": {"chian": "X"}},
            "render.iptables: unknown key 'chian' (did you mean chain?)",
        ),
        ({"iptable": {"chain": "X"}}, "unknown key 'iptable' (did you mean iptables?)"),
        ({"nftables": {"tabel": "x"}}, "(did you mean table?)"),
        ({"paloalto": {"group_limit": 5}}, "(did you mean group_member_limit?)"),
        ({"nftables": "filter"}, "render.nftables must be a mapping"),
        ({"mdi-sensor": {"dns_servers": ["10.0.0.1"]}}, "missing radius_servers"),
    ],
)
def test_unknown_and_bad_keys_are_named_with_a_suggestion(section: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        render_settings(section)
    assert message in caught.value.message


def test_flat_keys_of_the_previous_release_still_work_with_a_warning() -> None:
    settings, said = warnings_of({"chain": "OLD-OUT", "nft_table": "legacy", "windows_chunk": 7})
    assert settings.get(IptablesOptions).chain == "OLD-OUT"
    assert settings.get(NftablesOptions).table == "legacy"
    assert said == [
        "render.chain is deprecated: use render.iptables.chain",
        "render.nft_table is deprecated: use render.nftables.table",
        "render.windows_chunk is deprecated: use render.windows.chunk_size",
    ]
    # Given both ways, the new key wins.
    settings, _ = warnings_of({"chain": "OLD-OUT", "iptables": {"chain": "NEW-OUT"}})
    assert settings.get(IptablesOptions).chain == "NEW-OUT"
    # Bad values are still refused under the old names.
    with pytest.raises(ConfigError, match=r"render\.iptables\.chain"):
        render_settings({"chain": "bad chain"}, warn=lambda _: None)


def test_the_underscore_mdi_section_still_works_with_a_warning() -> None:
    settings, said = warnings_of({"mdi_sensor": SITE["mdi-sensor"]})
    assert settings.get(MdiSensorOptions).sensors == ("10.0.0.20/32",)
    assert said == ["render.mdi_sensor is deprecated: rename it render.mdi-sensor"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_user_formats_read_their_own_section_and_every_format_setting(tmp_path: Path) -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "list.txt.j2").write_text(
        "{{ render.mine.greeting }} {{ render.iptables.chain }} {{ options.chain }}\n"
    )
    said: list[str] = []
    settings = render_settings(
        {"mine": {"greeting": "hello"}, "iptables": {"chain": "MY-OUT"}},
        ["mine"],
        warn=said.append,
    )
    assert said == []
    collect = Collect()
    logging.getLogger("tagsync").addHandler(collect)
    try:
        files = render_formats(st, [TAG], ["mine"], templates_dir=tmp_path, settings=settings)
    finally:
        logging.getLogger("tagsync").removeHandler(collect)
    assert files == {"mine/list.txt": "hello MY-OUT MY-OUT\n"}
    # The template's deprecated name is answered, with a warning naming the new one.
    assert collect.messages == [
        "template variable options.chain is deprecated: use render.iptables.chain"
    ]
    # Without the user format's name, its section is an unknown key.
    with pytest.raises(ConfigError, match="unknown key 'mine'"):
        render_settings({"mine": {"greeting": "hello"}})


def test_all_is_the_site_neutral_formats_and_unknown_names_get_suggestions() -> None:
    assert [f.name for f in resolve_formats(["all", "proxy", "iptables"])] == [
        *site_neutral(),
        "proxy",
    ]
    for wrong, right in (("nft", "nftables"), ("iptable", "iptables"), ("palo", "paloalto")):
        with pytest.raises(ConfigError, match=rf"did you mean {right}\?"):
            resolve_formats([wrong])


def test_formats_command_lists_the_registry(runner: CliRunner) -> None:
    result = runner.invoke(app, ["formats"])
    assert result.exit_code == 0, result.output
    for fmt in BUILTIN.values():
        assert f"{fmt.name}" in result.stdout
        assert all(out in result.stdout for out in fmt.outputs)
    assert "needs: render.proxy.host" in result.stdout
    listed = json.loads(
        runner.invoke(
            app, ["formats", "--format", "json", "--templates", "samples/templates"]
        ).stdout
    )
    by_name = {entry["name"]: entry for entry in listed}
    assert set(by_name) == {*BUILTIN, "fortigate-lite"}
    assert by_name["paloalto"]["incremental_files"] == ["paloalto/incremental-set-commands.txt"]
    assert by_name["fortigate-lite"]["files"] == ["fortigate-lite/addresses.conf"]
    assert [e["name"] for e in listed if e["in_all"]] == list(site_neutral())
