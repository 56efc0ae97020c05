"""`tagsync doctor`: one screen per profile and cloud, its counts checked against an
independent stdlib computation, the snapshot or --file as the version, JSON for scripts."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from typer.testing import CliRunner

from tagsync.cli import app

FILES = {
    "public": "servicetags/public/ServiceTags_Public_20251006.json",
    "usgov": "servicetags/usgov/ServiceTags_AzureGovernment_20251020.json",
}
TAGS = {
    "mdi-v2": ["AzureAdvancedThreatProtection"],
    "mdi-v3": ["MicrosoftDefenderForEndpoint", "OneDsCollector"],
}


def expected_counts(path: Path, names: list[str]) -> dict[str, int]:
    """Prefix and address counts of the union of ``names``, straight from the JSON."""
    document = json.loads(path.read_bytes())
    prefixes = {
        p
        for v in document["values"]
        if v["name"] in names
        for p in v["properties"]["addressPrefixes"]
    }
    networks = [ipaddress.ip_network(p) for p in prefixes]
    result = {}
    for version, name in ((4, "ipv4"), (6, "ipv6")):
        family = [n for n in networks if n.version == version]
        result[f"{name}_prefixes"] = len(family)
        collapsed = ipaddress.collapse_addresses(family)  # type: ignore[type-var]
        result[f"{name}_addresses"] = sum(n.num_addresses for n in collapsed)
    return result


def doctor(args: list[str], state: Path) -> Any:
    result = CliRunner().invoke(app, ["doctor", *args, "--state-dir", str(state)])
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize("cloud", sorted(FILES))
@pytest.mark.parametrize("profile", sorted(TAGS))
def test_json_counts_match_an_independent_computation(
    cloud: str, profile: str, tmp_path: Path
) -> None:
    path = shared_file(FILES[cloud])
    args = ["-f", str(path), "--cloud", cloud, "--profile", profile, "--format", "json"]
    report = json.loads(doctor(args, tmp_path).stdout)
    assert report["profile"]["name"] == profile and report["cloud"] == cloud
    assert report["version"]["change_number"] == json.loads(path.read_bytes())["changeNumber"]
    assert [t["name"] for t in report["tags"]] == TAGS[profile]
    for tag in report["tags"]:
        own = expected_counts(path, [tag["name"]])
        assert {k: tag[k] for k in own} == own
    assert report["total"] == expected_counts(path, TAGS[profile])
    assert report["ports"]["rules"][0]["port"] == 443
    for section in (report["ports"]["source"], report["tags_source"]):
        assert section["url"].startswith("https://learn.microsoft.com/")
    assert report["expressroute"]["sources"]


def test_text_screen_names_each_source(tmp_path: Path) -> None:
    path = shared_file(FILES["public"])
    config = tmp_path / "config.yaml"
    config.write_text("workspace: contoso-corp\n")
    text = doctor(["-f", str(path), "-c", str(config)], tmp_path / "state").stdout
    assert text.startswith("Defender for Identity sensor v2.x (profile mdi-v2), public cloud")
    assert "AzureAdvancedThreatProtection (changeNumber 35): 87 IPv4 / 79 IPv6 prefixes" in text
    assert "HTTPS (CONNECT 443): contoso-corpsensorapi.atp.azure.com" in text
    assert "community 12076:5220 (Microsoft Defender for Identity)" in text
    assert "UDP 1813 in: RADIUS from RADIUS servers" in text
    for page in ("configure-proxy", "prerequisites-sensor-version-2", "expressroute-routing"):
        assert f"/{page}" in text, page
    assert len(text.splitlines()) < 60  # one screen, give or take the long source lines


def test_usgov_without_offering_lists_each(tmp_path: Path) -> None:
    path = shared_file(FILES["usgov"])
    config = tmp_path / "config.yaml"
    config.write_text("workspace: contoso\ncloud: usgov\n")
    text = doctor(["-f", str(path), "-c", str(config)], tmp_path / "state").stdout
    assert "gcc: contososensorapi.gcc.atp.azure.com" in text
    assert "gcc-high: contososensorapi.atp.azure.us" in text
    assert "Nothing is documented for Defender for Identity over ExpressRoute" in text


def test_snapshot_is_the_default_version(tmp_path: Path) -> None:
    state = tmp_path / "state"
    missing = CliRunner().invoke(app, ["doctor", "--state-dir", str(state)])
    assert missing.exit_code == 3 and missing.stderr.count("\n") == 1
    assert "no accepted public version" in missing.stderr
    path = shared_file(FILES["public"])
    update = CliRunner().invoke(app, ["update", "-f", str(path), "--state-dir", str(state)])
    assert update.exit_code == 0, update.stderr
    report = json.loads(doctor(["--format", "json"], state).stdout)
    assert report["version"]["change_number"] == 372
    assert report["version"]["source"].startswith("accepted snapshot in")
