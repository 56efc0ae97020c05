"""Profiles: the config keys, --profile, the profile's tags unless `tags:` is explicit, the
China + v3 error, and `tagsync profiles`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.config import Config, load_config
from tagsync.errors import EXIT_DATA, ConfigError, UnknownTagError
from tagsync.model import parse_service_tags
from tagsync.profiles import PROFILES, apply_profile, require_profile_tags

PUBLIC = "servicetags/public/ServiceTags_Public_20251006.json"
CHINA = "servicetags/china/ServiceTags_China_20251020.json"
V3_TAGS = ("MicrosoftDefenderForEndpoint", "OneDsCollector")


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_default_is_v2_with_its_tag() -> None:
    effective = apply_profile(Config())
    assert effective.profile == "mdi-v2"
    assert effective.tags == ("AzureAdvancedThreatProtection",)


def test_profile_from_config_and_override(tmp_path: Path) -> None:
    loaded = load_config(config_file(tmp_path, "profile: mdi-v3\n"))
    assert apply_profile(loaded).tags == V3_TAGS
    assert apply_profile(loaded, "mdi-v2").tags == ("AzureAdvancedThreatProtection",)
    assert apply_profile(Config(), "MDI-V3").profile == "mdi-v3"


def test_explicit_tags_win_over_the_profile(tmp_path: Path) -> None:
    loaded = load_config(config_file(tmp_path, "profile: mdi-v3\ntags: [AzureCloud]\n"))
    assert loaded.tags_explicit
    assert apply_profile(loaded).tags == ("AzureCloud",)
    assert apply_profile(loaded, "mdi-v2").tags == ("AzureCloud",)


def test_profile_reaches_the_format_sections_unless_they_set_it(tmp_path: Path) -> None:
    text = "profile: mdi-v3\nworkspace: Contoso\nusgov_offering: gcc\nrender:\n"
    text += "  expressroute: {profile: mdi-v2}\n"
    sections = apply_profile(load_config(config_file(tmp_path, text))).sections["render"]
    assert sections["proxy"] == {
        "profile": "mdi-v3",
        "workspace": "contoso",
        "usgov_offering": "gcc",
    }
    assert sections["expressroute"] == {"profile": "mdi-v2"}
    assert sections["mdi-sensor"] == {"profile": "mdi-v3"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("profile: mdi-3\n", r"unknown profile 'mdi-3' \(did you mean mdi-v3\?\)"),
        ("profile: v2\n", r"unknown profile 'v2'.*choose one of mdi-v2, mdi-v3"),
        ("profile: 3\n", r"profile has the wrong type"),
        ("workspace: -contoso\n", r"workspace '-contoso' is not a DNS label"),
        ("workspace: contoso.corp\n", r"is not a DNS label"),
        ("usgov_offering: gcch\n", r"usgov_offering 'gcch' is not one of gcc, gcc-high, dod"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_file(
    tmp_path: Path, text: str, match: str
) -> None:
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as error:
        load_config(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_override_typo_suggests() -> None:
    with pytest.raises(ConfigError, match=r"--profile: unknown profile 'mdi-v4' \(did you mean"):
        apply_profile(Config(), "mdi-v4")


def test_china_and_v3_is_the_documented_error() -> None:
    path = shared_file(CHINA)
    st = parse_service_tags(path.read_bytes(), source=str(path))
    with pytest.raises(UnknownTagError) as error:
        require_profile_tags(st, apply_profile(Config(), "mdi-v3"), "china")
    message = str(error.value)
    assert "profile mdi-v3 needs service tag MicrosoftDefenderForEndpoint" in message
    assert "the china cloud does not publish" in message and "use profile mdi-v2" in message
    assert error.value.exit_code == EXIT_DATA
    require_profile_tags(st, apply_profile(Config(), "mdi-v2"), "china")  # v2 is published


@pytest.mark.parametrize("command", ["render", "diff", "doctor"])
def test_cli_china_v3_exits_3_with_one_line(command: str, tmp_path: Path) -> None:
    path = shared_file(CHINA)
    args = {
        "render": ["render", "iptables", "-f", str(path), "--out", "-"],
        "diff": ["diff", "-f", str(path), "--against", str(path)],
        "doctor": ["doctor", "-f", str(path)],
    }[command]
    result = CliRunner().invoke(
        app, [*args, "--cloud", "china", "--profile", "mdi-v3", "--state-dir", str(tmp_path)]
    )
    assert result.exit_code == EXIT_DATA, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1
    assert "MicrosoftDefenderForEndpoint" in result.stderr and "china" in result.stderr


def test_profiles_command_text_and_json() -> None:
    text = CliRunner().invoke(app, ["profiles"])
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith("mdi-v2 (default): sensor v2.x")
    assert "  tags: MicrosoftDefenderForEndpoint, OneDsCollector" in text.stdout
    assert "streamlined-device-connectivity-urls-commercial" in text.stdout
    as_json = CliRunner().invoke(app, ["profiles", "--format", "json"])
    entries = json.loads(as_json.stdout)
    assert [e["name"] for e in entries] == list(PROFILES)
    assert entries[0]["tags"] == ["AzureAdvancedThreatProtection"]
    assert entries[0]["expressroute_communities"]["public"] == ["12076:5220"]
    assert entries[1]["proxy_workspace_hosts"] == {}
    assert all(
        s["url"].startswith("https://learn.microsoft.com/") for e in entries for s in e["sources"]
    )


def test_profile_option_is_on_every_data_command() -> None:
    for command in ("fetch", "tags", "prefixes", "diff", "update", "render", "check", "doctor"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert "--profile" in result.stdout, command
