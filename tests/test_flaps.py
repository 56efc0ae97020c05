"""Flaps: a range gained then lost (or lost then regained) within the kept history is reported,
one line per range with both versions and dates, in reports and alerts.

The real files hold one: AzureActiveDirectory gains 13.87.32.28/32 in 20250728 and loses it
again in 20250804. Expected ranges are computed here with stdlib ipaddress (test_grace's
helpers), and a second flap is built from the real prefixes of the Defender for Identity tag.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path

from conftest import public
from test_grace import ATP, collapsed, minus, published
from typer.testing import CliRunner

from tagsync.alerts.summary import markdown_text, plain_text, summarize
from tagsync.cli import app
from tagsync.diff import ChangeSet
from tagsync.flaps import find_flaps
from tagsync.kept import KeptVersion
from tagsync.published import FROM_FILE_NAME, Publication

AAD = "AzureActiveDirectory"
WEEKS = ("20250127", "20250728", "20250804")


def day(week: str) -> dt.date:
    return dt.datetime.strptime(week, "%Y%m%d").date()


def change_number(week: str) -> int:
    return int(json.loads(public(week).read_bytes())["changeNumber"])


def expected_flaps(tag: str) -> list[tuple[str, str]]:
    """(CIDR, first change) of the ranges WEEKS[2] takes back from what WEEKS[1] changed."""
    a, b, c = (published(week, tag) for week in WEEKS)
    gained, lost = minus(b, a), minus(a, b)
    then_lost, then_gained = minus(b, c), minus(c, b)
    flaps = [(str(n), "gained") for n in minus(gained, minus(gained, then_lost))]
    return flaps + [(str(n), "lost") for n in minus(lost, minus(lost, then_gained))]


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_a_real_flap_is_reported_by_diff(runner: CliRunner, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    for week in WEEKS[:2]:
        run(runner, "update", "--file", str(public(week)), "--state-dir", state, "-t", AAD)
    expected = expected_flaps(AAD)
    assert ("13.87.32.28/32", "gained") in expected  # the one the real files show
    base = ["diff", "--file", str(public(WEEKS[2])), "--state-dir", state, "-t", AAD]
    document = json.loads(run(runner, *base, "--format", "json"))
    found = [(flap["cidr"], "gained" if "gained" in flap else "lost") for flap in document["flaps"]]
    assert sorted(found) == sorted(expected)
    first, second = (change_number(week) for week in WEEKS[1:])
    flap = next(f for f in document["flaps"] if f["cidr"] == "13.87.32.28/32")
    assert flap == {
        "tag": AAD,
        "cidr": "13.87.32.28/32",
        "gained": {
            "change_number": first,
            "published": day(WEEKS[1]).isoformat(),
            "published_basis": FROM_FILE_NAME,
        },
        "lost": {
            "change_number": second,
            "published": day(WEEKS[2]).isoformat(),
            "published_basis": FROM_FILE_NAME,
        },
        "days": (day(WEEKS[2]) - day(WEEKS[1])).days,
    }
    line = (
        f"  ~ {AAD} 13.87.32.28/32: gained in changeNumber {first} (published "
        f"{day(WEEKS[1])}), lost in changeNumber {second} (published {day(WEEKS[2])}), "
        "7 days later"
    )
    assert line in run(runner, *base).splitlines()
    markdown = run(runner, *base, "--format", "markdown")
    assert "## Flaps" in markdown and f"- {AAD} 13.87.32.28/32: gained in" in markdown


def version(number: int, week: str, prefixes: list[str]) -> KeptVersion:
    return KeptVersion(
        number, f"{number:064x}", Publication(day(week), FROM_FILE_NAME), {ATP: frozenset(prefixes)}
    )


def test_a_flap_built_from_real_prefixes_reaches_the_alerts() -> None:
    # The Defender for Identity tag loses 51.143.192.112/29 in 20250804; here it comes back
    # the week after, as 68.211.0.152/29 did in June 2024 (the other way round).
    before = [str(n) for n in published(WEEKS[1])]
    after = [str(n) for n in published(WEEKS[2])]
    (gone,) = (str(n) for n in collapsed(minus(published(WEEKS[1]), published(WEEKS[2]))))
    versions = [
        version(364, "20250728", before),
        version(365, "20250804", after),
        version(366, "20250811", [*after, gone]),
    ]
    flaps = find_flaps(versions, [ATP], last_only=True)
    assert [(f.cidr, f.first_change, f.second_change) for f in flaps] == [(gone, "lost", "gained")]
    # Addresses, not texts: coming back as its two /30 halves is the same flap of the /29.
    halves = [str(n) for n in ipaddress.ip_network(gone).subnets()]
    split = [*versions[:2], version(366, "20250811", [*after, *halves])]
    assert [flap.cidr for flap in find_flaps(split, [ATP])] == [gone]
    assert find_flaps(versions[:2], [ATP]) == ()  # lost once, not back: no flap
    changes = ChangeSet("Public", 365, 366, {}, flaps=flaps)
    summary = summarize(changes)
    text = (
        f"{ATP} {gone}: lost in changeNumber 365 (published 2025-08-04), "
        "gained in changeNumber 366 (published 2025-08-11), 7 days later"
    )
    assert f"  ~ {text}" in plain_text(summary)
    assert f"- {text}" in markdown_text(summary)
