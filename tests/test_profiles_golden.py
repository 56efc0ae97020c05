"""Golden outputs of every format for both profiles on the real Public and US Gov files
(profile, workspace and US Gov offering set as a config file would, through apply_profile).

Regenerate after an intended change with ``TAGSYNC_UPDATE_GOLDEN=1 pytest
tests/test_profiles_golden.py`` and review the diff like any other code change.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from pathlib import Path

import pytest
from datafiles import data_file

import tagsync
from tagsync.config import Config
from tagsync.formats.registry import BUILTIN
from tagsync.model import parse_service_tags
from tagsync.profiles import apply_profile
from tagsync.render import render_formats, render_settings

GOLDEN = Path(__file__).parent / "golden" / "profiles"
VERSION = f"tagsync {tagsync.__version__}"
FILES = {
    "public": "servicetags/public/ServiceTags_Public_20251006.json",
    "usgov": "servicetags/usgov/ServiceTags_AzureGovernment_20251020.json",
}
OFFERING = {"mdi-v2": "gcc", "mdi-v3": "gcc-high"}  # one of each US Gov host family
SITE = {
    "mdi-sensor": {
        "dns_servers": ["10.0.0.53", "fd00::53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16", "fd00::/48"],
        "sensors": ["10.0.0.20", "10.0.1.20"],
    },
    "proxy": {"host": "proxy.example.net", "port": 8080, "clients": ["10.0.0.20", "10.0.1.20"]},
}
CASES = [(profile, cloud) for profile in ("mdi-v2", "mdi-v3") for cloud in FILES]


@functools.cache
def rendered(profile: str, cloud: str) -> dict[str, str]:
    path = data_file(FILES[cloud])  # the shipped real files, unpacked on first use
    config = Config(
        cloud=cloud,
        workspace="contoso-corp",
        usgov_offering=OFFERING[profile] if cloud == "usgov" else None,
        sections={"render": SITE},
    )
    effective = apply_profile(replace(config, profile=profile))
    st = parse_service_tags(path.read_bytes())
    settings = render_settings(effective.section("render"))
    files = render_formats(st, list(effective.tags), list(BUILTIN), settings=settings)
    return {k: v.replace(VERSION, "tagsync VERSION") for k, v in files.items()}


def golden_cases() -> list[tuple[str, str, str]]:
    return [
        (profile, cloud, relative)
        for profile, cloud in CASES
        for relative in sorted(rendered(profile, cloud))
    ]


@pytest.mark.parametrize(("profile", "cloud", "relative"), golden_cases())
def test_matches_golden(profile: str, cloud: str, relative: str) -> None:
    files = rendered(profile, cloud)
    golden = GOLDEN / f"{profile}-{cloud}" / relative
    if os.environ.get("TAGSYNC_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(files[relative], encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with TAGSYNC_UPDATE_GOLDEN=1"
    assert files[relative] == golden.read_text(encoding="utf-8")


def test_no_stale_golden_files() -> None:
    expected = {f"{p}-{c}/{r}" for p, c, r in golden_cases()}
    on_disk = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == expected


def test_the_profiles_differ_where_they_should() -> None:
    v2, v3 = rendered("mdi-v2", "public"), rendered("mdi-v3", "public")
    assert "tag: AzureAdvancedThreatProtection" in v2["iptables/ipset.restore"]
    assert "tag: OneDsCollector" in v3["iptables/ipset.restore"]
    assert "dstdomain contoso-corpsensorapi.atp.azure.com" in v2["proxy/squid.conf"]
    assert "dstdomain .endpoint.security.microsoft.com" in v3["proxy/squid.conf"]
    gov = rendered("mdi-v2", "usgov")
    assert "dstdomain contoso-corpsensorapi.gcc.atp.azure.com" in gov["proxy/squid.conf"]
    assert "--communities 12076:5220" in v2["expressroute/notes.md"]
    assert "--communities" not in v3["expressroute/notes.md"]
    assert "--communities" not in gov["expressroute/notes.md"]
