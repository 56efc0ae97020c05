"""`tagsync status` on real China files, checked against stdlib ipaddress arithmetic.

Two real releases are copied under names dated 10 and 3 days ago, so the newer one's deploy-by
date (publication + 7 days) is still ahead; expected counts, gains and losses are computed
here from the plain JSON with ``ipaddress.collapse_addresses``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.status import read_last_check, record_check_result

OLD, NEW = "20251013", "20251020"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def gov(day: str) -> Path:
    return shared_file(f"servicetags/china/ServiceTags_China_{day}.json")


def tags_of(path: Path) -> dict[str, list[str]]:
    document = json.loads(path.read_bytes())
    return {v["name"]: v["properties"]["addressPrefixes"] for v in document["values"]}


def size(networks: Iterable[Network], version: int) -> int:
    same = [n for n in networks if n.version == version]
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(same))  # type: ignore[type-var, misc]


def nets(prefixes: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(p) for p in prefixes]


def gained(old: list[str], new: list[str], version: int) -> int:
    """Addresses in new but not in old: |old u new| - |old|."""
    return size(nets(old + new), version) - size(nets(old), version)


@pytest.fixture(scope="module")
def watched() -> list[str]:
    """A tag that gained and lost addresses between the two releases, and one unchanged."""
    old, new = tags_of(gov(OLD)), tags_of(gov(NEW))
    both = [
        name
        for name in sorted(new)
        if name in old
        and gained(old[name], new[name], 4) + gained(old[name], new[name], 6) > 0
        and gained(new[name], old[name], 4) + gained(new[name], old[name], 6) > 0
    ]
    same = [name for name in sorted(new) if name in old and set(old[name]) == set(new[name])]
    assert both and same
    return [both[0], same[0]]


def dated_copy(source: Path, folder: Path, day: date) -> Path:
    path = folder / f"ServiceTags_China_{day:%Y%m%d}.json"
    path.write_bytes(source.read_bytes())
    return path


@pytest.fixture
def setup(tmp_path: Path, runner: CliRunner, watched: list[str]) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    older = dated_copy(gov(OLD), tmp_path, today - timedelta(days=10))
    newer = dated_copy(gov(NEW), tmp_path, today - timedelta(days=3))
    state = tmp_path / "state"
    config = tmp_path / "config.yaml"
    document = {
        "cloud": "china",
        "state_dir": str(state),
        "output_dir": str(tmp_path / "out"),
        "tags": watched,
        "history": {"keep": 10, "removal_grace": "14d"},
    }
    config.write_text(yaml.safe_dump(document))
    for path in (older, newer):
        args = ["update", "--config", str(config), "--file", str(path), "--force"]
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1), result.output
    return {"config": config, "state": state, "today": today, "newer": newer}


def status_json(runner: CliRunner, config: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_status_json_against_ipaddress(
    runner: CliRunner, setup: dict[str, Any], watched: list[str]
) -> None:
    (cloud,) = status_json(runner, setup["config"])["clouds"]
    today = setup["today"]
    published = (today - timedelta(days=3)).isoformat()
    new_document = json.loads(gov(NEW).read_bytes())
    accepted = cloud["accepted"]
    assert accepted["change_number"] == new_document["changeNumber"]
    assert (accepted["published"], accepted["published_basis"]) == (published, "file-name")
    assert accepted["deploy_by"] == (today + timedelta(days=4)).isoformat()
    assert accepted["source"] == str(setup["newer"])
    assert cloud["kept_versions"] == 2
    old, new = tags_of(gov(OLD)), tags_of(gov(NEW))
    for entry, name in zip(cloud["tags"], watched, strict=True):
        prefixes = new[name]
        assert entry["name"] == name and entry["present"]
        assert entry["prefixes"] == {
            "ipv4": sum(":" not in p for p in prefixes),
            "ipv6": sum(":" in p for p in prefixes),
        }
        assert entry["addresses"] == {
            "ipv4": size(nets(prefixes), 4),
            "ipv6": size(nets(prefixes), 6),
        }
    (pending,) = cloud["pending_deploy_by"]
    assert pending["change_number"] == new_document["changeNumber"]
    assert pending["deploy_by"] == (today + timedelta(days=4)).isoformat()
    assert pending["compared_with_previous"]
    for version in (4, 6):
        family = f"ipv{version}"
        expected = sum(gained(old[n], new[n], version) for n in watched)
        assert pending["gained_addresses"][family] == expected
        listed = [c for cidrs in pending["gained"].values() for c in cidrs]
        assert size(nets(listed), version) == expected
    for name, cidrs in pending["gained"].items():
        for cidr in nets(cidrs):
            assert not any(cidr.overlaps(o) for o in nets(old[name]) if o.version == cidr.version)
    # Removal grace (14 days from the publication of the version that dropped them).
    assert cloud["removal_grace"] == "2w"
    until = (today - timedelta(days=3) + timedelta(days=14)).isoformat()
    assert set(cloud["held"]) == {watched[0]}
    for name in watched:
        held = cloud["held"].get(name, [])
        assert {item["until"] for item in held} <= {until}
        for version in (4, 6):
            assert size(nets(item["cidr"] for item in held), version) == gained(
                new[name], old[name], version
            )
    assert cloud["last_check"] is None


def test_status_text(runner: CliRunner, setup: dict[str, Any], watched: list[str]) -> None:
    result = runner.invoke(app, ["status", "--config", str(setup["config"])])
    assert result.exit_code == 0, result.output
    text = result.stdout
    today = setup["today"]
    new = tags_of(gov(NEW))
    assert text.startswith(f"china: {setup['state']}")
    assert f"published {(today - timedelta(days=3)).isoformat()}" in text
    for name in watched:
        v4 = sum(":" not in p for p in new[name])
        v6 = len(new[name]) - v4
        assert (
            f"    {name}: {v4} IPv4 + {v6} IPv6 prefixes, {size(nets(new[name]), 4):,} IPv4" in text
        )
    assert f"deploy-by {(today + timedelta(days=4)).isoformat()}: changeNumber" in text
    assert "removal grace (2w): held" in text
    assert "last check: none recorded" in text
    again = runner.invoke(app, ["status", "--config", str(setup["config"])])
    assert again.stdout == text


def test_last_check_recorded_by_a_real_check(
    runner: CliRunner, setup: dict[str, Any], tmp_path: Path
) -> None:
    config, newer = setup["config"], setup["newer"]
    result = runner.invoke(app, ["check", "--config", str(config), "--file", str(newer), "-q"])
    assert result.exit_code == 0, result.output
    check = status_json(runner, config)["clouds"][0]["last_check"]
    assert (check["result"], check["exit_code"]) == ("unchanged", 0)
    assert abs(datetime.fromisoformat(check["at"]) - datetime.now(UTC)) < timedelta(minutes=5)
    broken = tmp_path / "ServiceTags_China_20991231.json"
    broken.write_text("<html>maintenance</html>")
    failed = runner.invoke(app, ["check", "--config", str(config), "--file", str(broken), "-q"])
    assert failed.exit_code == 3
    check = status_json(runner, config)["clouds"][0]["last_check"]
    assert check["exit_code"] == 3 and check["result"].startswith(f"failed: {broken}")
    text = runner.invoke(app, ["status", "--config", str(config)]).stdout
    assert f"last check: {check['at']}: failed: {broken}" in text


def test_record_and_read_last_check(tmp_path: Path) -> None:
    record_check_result(tmp_path / "public", "changed", 1, "2025-10-07T06:00:00+00:00")
    assert read_last_check(tmp_path / "public") == {
        "result": "changed",
        "exit_code": 1,
        "at": "2025-10-07T06:00:00+00:00",
    }
    (tmp_path / "public" / "last-check.json").write_text("{not json")
    assert read_last_check(tmp_path / "public") is None


def test_no_state_and_one_cloud(runner: CliRunner, tmp_path: Path) -> None:
    empty = runner.invoke(app, ["status", "--state-dir", str(tmp_path), "--format", "json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == {"clouds": []}
    chosen = runner.invoke(app, ["status", "--state-dir", str(tmp_path), "--cloud", "china"])
    assert chosen.exit_code == 0
    assert "accepted: none yet" in chosen.stdout
