"""`tagsync feeds`: each tag's last change and deploy-by date over real consecutive versions,
against an independent computation from the published files (stdlib ipaddress, datetime).

A tag's last change is the newest version whose tag differs from the version before it; when
it gained addresses, its deploy-by date is that version's publication + 7 days. The page shows
the same dates as index.json, marked when the publication is only the day of acceptance.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import public
from test_feeds import parse_page
from typer.testing import CliRunner

from tagsync.cli import app

KEPT = ("20250825", "20250901", "20250908")
# One version as the expectations see it: properties per tag, publication day, changeNumber.
Version = tuple[dict[str, dict[str, Any]], str | None, int]


def day(name: str) -> str:
    return f"{name[:4]}-{name[4:6]}-{name[6:]}"


def properties(path: Path) -> dict[str, dict[str, Any]]:
    """Per tag its properties, prefixes in canonical form (what history compares)."""
    document = json.loads(path.read_bytes())
    found = {}
    for value in document["values"]:
        props = dict(value["properties"])
        props["addressPrefixes"] = [str(ipaddress.ip_network(p)) for p in props["addressPrefixes"]]
        found[value["name"]] = props
    return found


def merged_ranges(prefixes: list[str]) -> list[tuple[int, int, int]]:
    """(family, first, last) address ranges, sorted, touching ranges merged."""
    ranges = sorted(
        (n.version, int(n.network_address), int(n.broadcast_address))
        for n in map(ipaddress.ip_network, prefixes)
    )
    merged: list[tuple[int, int, int]] = []
    for family, first, last in ranges:
        if merged and merged[-1][0] == family and first <= merged[-1][2] + 1:
            merged[-1] = (family, merged[-1][1], max(merged[-1][2], last))
        else:
            merged.append((family, first, last))
    return merged


def gains_addresses(old: list[str], new: list[str]) -> bool:
    """Some address of ``new`` is in no network of ``old``."""
    covered = merged_ranges(old)
    for family, first, last in merged_ranges(new):
        if not any(f == family and a <= first and last <= b for f, a, b in covered):
            return True
    return False


def expected_changes(versions: Sequence[Version]) -> dict[str, dict[str, Any] | None]:
    """Per tag of the last version: its expected last_change entry (None: not in the kept
    window)."""
    newest = versions[-1][0]
    found: dict[str, dict[str, Any] | None] = {}
    for name, props in newest.items():
        start = len(versions) - 1
        while start > 0 and versions[start - 1][0].get(name) == props:
            start -= 1
        if start == 0:
            found[name] = None
            continue
        before = versions[start - 1][0].get(name)
        old = before["addressPrefixes"] if before else []
        found[name] = {
            "change_number": versions[start][2],
            "published": versions[start][1],
            "gained": gains_addresses(old, props["addressPrefixes"]),
        }
    return found


def deploy_by(change: dict[str, Any] | None) -> str | None:
    if change is None or not change["gained"] or change["published"] is None:
        return None
    return (date.fromisoformat(change["published"]) + timedelta(days=7)).isoformat()


def accept(runner: CliRunner, state: Path, *files: Path) -> None:
    for path in files:
        result = runner.invoke(app, ["update", "--file", str(path), "--state-dir", str(state)])
        assert result.exit_code in (0, 1), result.stderr


def render(runner: CliRunner, out: Path, state: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(
        app, ["feeds", "--all-tags", "--out", str(out), "--state-dir", str(state), *args]
    )
    assert result.exit_code == 0, result.stderr
    index: dict[str, Any] = json.loads((out / "public" / "index.json").read_bytes())
    return index


def check_index(
    index: dict[str, Any], expected: dict[str, dict[str, Any] | None], basis: str | None
) -> None:
    assert set(index["tags"]) == set(expected)
    for name, entry in index["tags"].items():
        want = expected[name]
        change = entry["last_change"]
        if want is None:
            assert change is None and entry["deploy_by"] is None, name
            continue
        assert change == {**want, "published_basis": basis if want["published"] else None}, name
        assert entry["deploy_by"] == deploy_by(want), name


def check_page(out: Path, index: dict[str, Any]) -> None:
    """The page's deploy-by cells say what index.json says; '*' marks an acceptance day."""
    page = parse_page((out / "public" / "index.html").read_text())
    for name, row in page.rows.items():
        entry = index["tags"][name]
        if entry["deploy_by"] is None:
            assert row["deploy-by"] == "\u2014", name
        else:
            accepted = entry["last_change"]["published_basis"] == "accepted"
            assert row["deploy-by"] == entry["deploy_by"] + ("*" if accepted else ""), name


def test_deploy_by_over_kept_versions(runner: CliRunner, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    accept(runner, state, *map(public, KEPT))
    versions: list[Version] = [
        (properties(public(d)), day(d), json.loads(public(d).read_bytes())["changeNumber"])
        for d in KEPT
    ]
    # From the accepted snapshot (the newest kept version).
    index = render(runner, out, state)
    assert (index["publication_date"], index["publication_basis"]) == (day(KEPT[-1]), "file-name")
    expected = expected_changes(versions)
    check_index(index, expected, "file-name")
    check_page(out, index)
    dated = [n for n, e in index["tags"].items() if e["deploy_by"]]
    unchanged = [n for n, e in index["tags"].items() if e["last_change"] is None]
    lost_only = [n for n, c in expected.items() if c is not None and not c["gained"]]
    assert len(dated) > 20 and len(unchanged) > 1000 and lost_only  # every case is met

    # A newer file, not accepted: tags it changes were last changed by it.
    newest = public("20251006")
    index = render(runner, out, state, "--file", str(newest))
    versions.append((properties(newest), "2025-10-06", index["change_number"]))
    check_index(index, expected_changes(versions), "file-name")
    assert any(e["deploy_by"] == "2025-10-13" for e in index["tags"].values())

    # The same file under a name without a date: its publication is unknown, so the changes
    # it brings have no deploy-by; older ones keep theirs.
    undated = tmp_path / "latest.json"
    shutil.copyfile(newest, undated)
    index = render(runner, out, state, "--file", str(undated))
    assert index["publication_date"] is None and index["publication_basis"] is None
    versions[-1] = (versions[-1][0], None, versions[-1][2])
    check_index(index, expected_changes(versions), "file-name")
    check_page(out, index)


def test_deploy_by_from_the_acceptance_day_is_marked(runner: CliRunner, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    accept(runner, state, public("20250901"))
    undated = tmp_path / "ServiceTags_Public_latest.json"
    shutil.copyfile(public("20250908"), undated)
    before = datetime.now(UTC).date()
    accept(runner, state, undated)
    index = render(runner, out, state)
    accepted = index["publication_date"]
    assert index["publication_basis"] == "accepted"
    assert before <= date.fromisoformat(accepted) <= datetime.now(UTC).date()
    versions: list[Version] = [
        (properties(public("20250901")), "2025-09-01", 0),
        (properties(undated), accepted, json.loads(undated.read_bytes())["changeNumber"]),
    ]
    expected = expected_changes(versions)
    for name, entry in index["tags"].items():  # every change is the accepted version's
        want = expected[name]
        change = entry["last_change"]
        assert (change and change["published_basis"]) == (want and "accepted"), name
        assert entry["deploy_by"] == deploy_by(want), name
    assert any(e["deploy_by"] for e in index["tags"].values())
    check_page(out, index)
    page = (out / "public" / "index.html").read_text()
    assert 'class="accepted"' in page
