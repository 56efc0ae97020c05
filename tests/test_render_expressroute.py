"""ExpressRoute notes per profile and cloud: the documented community (or that none is),
Microsoft's service-to-community table, warnings for values outside it, errors for values
that are not communities at all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.errors import ConfigError
from tagsync.formats.expressroute import SERVICE_COMMUNITIES
from tagsync.model import parse_service_tags
from tagsync.render import render_formats, render_settings

AATP = "AzureAdvancedThreatProtection"
V3_TAGS = ["MicrosoftDefenderForEndpoint", "OneDsCollector"]
FILES = {
    "public": "servicetags/public/ServiceTags_Public_20251006.json",
    "usgov": "servicetags/usgov/ServiceTags_AzureGovernment_20251020.json",
    "china": "servicetags/china/ServiceTags_China_20251020.json",
}


class Collected(logging.Handler):
    """The tagsync logger's records, whatever handlers an earlier CLI run left on it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warned() -> Iterator[list[str]]:
    logger = logging.getLogger("tagsync")
    handler, level = Collected(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def notes(cloud: str, tags: list[str], section: dict[str, Any] | None = None) -> str:
    path = shared_file(FILES[cloud])
    st = parse_service_tags(path.read_bytes(), source=str(path))
    settings = render_settings({"expressroute": section or {}})
    return render_formats(st, tags, ["expressroute"], settings=settings)["expressroute/notes.md"]


def route_filter_communities(text: str) -> list[str]:
    """The --communities of the az route-filter rule, or [] when no filter is proposed."""
    for line in text.splitlines():
        if "--access Allow --communities" in line:
            return line.split("--communities", 1)[1].split()
    return []


def test_v2_public_allows_the_defender_for_identity_community() -> None:
    text = notes("public", [AATP])
    assert route_filter_communities(text) == ["12076:5220"]
    assert "`12076:5220` (Microsoft Defender for Identity)" in text
    assert "-CommunityList '12076:5220'" in text
    assert "they should cover the prefixes listed below" in text
    assert "expressroute-routing#service-to-bgp-community-value" in text
    assert "prerequisites-sensor-version-2" in text


@pytest.mark.parametrize("cloud", ["usgov", "china"])
def test_v2_national_clouds_say_nothing_is_documented(cloud: str) -> None:
    text = notes(cloud, [AATP])
    assert route_filter_communities(text) == []
    assert "No route filter is proposed here" in text
    assert "Nothing is documented for Defender for Identity over ExpressRoute" in text
    assert "12076:5220" not in text.split("Sources:")[1]  # not proposed below the facts


@pytest.mark.parametrize("cloud", ["public", "usgov"])
def test_v3_says_what_the_v3_pages_say(cloud: str) -> None:
    text = notes(cloud, V3_TAGS, {"profile": "mdi-v3"})
    assert route_filter_communities(text) == []
    assert '"has limitations working with Azure ExpressRoute"' in text
    assert "prerequisites-sensor-version-3" in text and "azure-expressroute" in text
    assert "sensor v3.x" in text.splitlines()[6]


def test_several_communities_and_other_tags_are_worded_as_such(warned: list[str]) -> None:
    chosen = ["12076:5220", "12076:5060"]
    text = notes("public", [AATP, "AzureActiveDirectory"], {"communities": chosen})
    assert not warned  # both are in Microsoft's table
    assert route_filter_communities(text) == chosen
    assert "the communities\n`12076:5220` (Microsoft Defender for Identity), `12076:5060` " \
        "(Azure Active Directory)" in text  # fmt: skip
    assert "are not documented to be the prefixes of" in text
    assert "they should cover" not in text
    # One community for a tag it is not documented for: the same caution.
    text = notes("public", ["AzureActiveDirectory"])
    assert route_filter_communities(text) == ["12076:5220"]
    assert "are not documented to be the prefixes of `AzureActiveDirectory`" in text


def test_unknown_community_warns_one_line(warned: list[str]) -> None:
    text = notes("public", [AATP], {"communities": ["12076:5220", "12076:59999"]})
    assert [m.count("\n") for m in warned] == [0]
    assert "12076:59999 is not in Microsoft's service-to-BGP-community table" in warned[0]
    assert route_filter_communities(text) == ["12076:5220", "12076:59999"]
    assert "`12076:59999` (not in Microsoft's service table)" in text
    warned.clear()
    text = notes("usgov", [AATP], {"communities": ["12076:5220"]})
    assert "for the usgov cloud (listed for public: Microsoft Defender for Identity)" in warned[0]
    assert "none is\ndocumented for the sensor v2.x in the usgov cloud" in text


@pytest.mark.parametrize("value", ["12076", "12076:5220:1", "AS12076:5220", "12076:5220 x", []])
def test_malformed_community_is_a_one_line_error(value: object) -> None:
    with pytest.raises(ConfigError, match=r"render\.expressroute\.communities") as error:
        render_settings({"expressroute": {"communities": value}})
    assert "\n" not in str(error.value)


def test_the_table_holds_the_documented_values() -> None:
    # The facts the notes rely on, as the ExpressRoute routing page lists them.
    assert SERVICE_COMMUNITIES["public"]["12076:5220"] == "Microsoft Defender for Identity"
    assert "12076:5220" not in SERVICE_COMMUNITIES["usgov"]
    assert SERVICE_COMMUNITIES["china"] == {}


def test_cli_warns_once_on_stderr_and_exits_0(tmp_path: Path) -> None:
    path = shared_file(FILES["public"])
    config = tmp_path / "config.yaml"
    config.write_text("render:\n  expressroute:\n    communities: ['12076:5220', '65000:1']\n")
    args = ["render", "expressroute", "-f", str(path), "-c", str(config), "--out", "-"]
    result = CliRunner().invoke(app, [*args, "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "65000:1" in line]
    assert len(warnings) == 1 and warnings[0].startswith("tagsync: warning: ")
    v3 = CliRunner().invoke(
        app, [*args, "--state-dir", str(tmp_path / "state"), "--profile", "mdi-v3"]
    )
    assert v3.exit_code == 0, v3.stderr
    assert "sensor v3.x" in v3.stdout and "MicrosoftDefenderForEndpoint" in v3.stdout
