"""Removal grace over real accepted versions: lost addresses stay in every allow-list while the
grace lasts (by versions and by duration), marked, then go; incremental outputs agree.

History is built with `tagsync update` from the real weekly files; expected addresses are
computed here with stdlib ipaddress (address sets of the published JSON), never with tagsync.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from conftest import public
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.clouds import CLOUDS
from tagsync.config import load_config
from tagsync.diff import diff_service_tags
from tagsync.errors import ConfigError
from tagsync.grace import Grace, grace_setting, held_addresses, parse_grace
from tagsync.model import parse_service_tags
from tagsync.render import render_formats
from tagsync.render import render_settings as settings_of
from tagsync.staging import staged
from tagsync.store import Store

ATP = "AzureAdvancedThreatProtection"
# 20250804 drops 51.143.192.112/29 from the tag; the next two weeks change nothing in it.
WEEKS = ("20250728", "20250804", "20250811", "20250818")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FIREWALLS = ("iptables", "nftables", "paloalto", "windows", "fortigate", "ciscoasa", "junipersrx")


def published(date: str, tag: str = ATP) -> list[Network]:
    document = json.loads(public(date).read_bytes())
    (value,) = (v for v in document["values"] if v["name"] == tag)
    return [ipaddress.ip_network(p) for p in value["properties"]["addressPrefixes"]]


def collapsed(networks: Iterable[Network]) -> list[Network]:
    items = list(networks)
    v4 = [n for n in items if n.version == 4]
    v6 = [n for n in items if n.version == 6]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def minus(a: Iterable[Network], b: Iterable[Network]) -> list[Network]:
    """Addresses of ``a`` not in ``b``, as the fewest networks (address_exclude per overlap)."""
    others = list(b)
    result: list[Network] = []
    for network in collapsed(a):
        pieces = [network]
        for other in others:
            kept: list[Network] = []
            for piece in pieces:
                if piece.version != other.version or not piece.overlaps(other):
                    kept.append(piece)
                elif not piece.subnet_of(other):  # type: ignore[arg-type]
                    kept.extend(piece.address_exclude(other))  # type: ignore[arg-type]
            pieces = kept
        result += pieces
    return collapsed(result)


def lost(old: str, new: str) -> list[str]:
    return [str(n) for n in minus(published(old), published(new))]


def accept(runner: CliRunner, state: Path, date: str) -> None:
    result = runner.invoke(app, ["update", "--file", str(public(date)), "--state-dir", str(state)])
    assert result.exit_code == 0, result.stderr


def config(tmp_path: Path, grace: str) -> Any:
    path = tmp_path / "tagsync.yaml"
    path.write_text(f"tags: [{ATP}]\nhistory:\n  removal_grace: {grace}\n")
    return load_config(path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14d", Grace(duration=dt.timedelta(days=14))),
        ("2w", Grace(duration=dt.timedelta(weeks=2))),
        ("36h", Grace(duration=dt.timedelta(hours=36))),
        (2, Grace(versions=2)),
        (None, None),
        (0, None),
        ("off", None),
        (False, None),
    ],
)
def test_grace_values(raw: object, expected: Grace | None) -> None:
    assert parse_grace(raw, "history.removal_grace") == expected


@pytest.mark.parametrize("raw", ["14", "2 months", "-1d", "0d", "400d", True, -2, 1.5, [2]])
def test_bad_grace_values_name_the_setting(raw: object) -> None:
    with pytest.raises(ConfigError, match=r"history\.removal_grace"):
        parse_grace(raw, "history.removal_grace")


def test_a_grace_in_versions_needs_the_history_to_keep_enough(tmp_path: Path) -> None:
    path = tmp_path / "tagsync.yaml"
    path.write_text("history:\n  keep: 2\n  removal_grace: 2\n")
    with pytest.raises(ConfigError, match=r"needs history\.keep of at least 3"):
        grace_setting(load_config(path))


def test_grace_by_versions_keeps_then_drops(runner: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = Store(state, CLOUDS["public"])
    settings = config(tmp_path, "2")
    expected = lost(WEEKS[0], WEEKS[1])
    assert expected  # the real week really loses addresses
    seen = []
    for week in WEEKS:
        accept(runner, state, week)
        seen.append(held_addresses(store, settings))
    assert seen[0] == {}
    assert seen[1] == {ATP: [(cidr, "2 more versions") for cidr in expected]}
    assert seen[2] == {ATP: [(cidr, "1 more version") for cidr in expected]}
    assert seen[3] == {}


def test_grace_by_duration_counts_from_the_publication(runner: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    for week in WEEKS:
        accept(runner, state, week)
    store = Store(state, CLOUDS["public"])
    expected = lost(WEEKS[0], WEEKS[1])
    dropped = dt.datetime.strptime(WEEKS[1], "%Y%m%d").replace(tzinfo=dt.UTC)
    ends = dropped + dt.timedelta(days=14)
    two_weeks = config(tmp_path, "14d")
    before_end = ends - dt.timedelta(minutes=1)
    assert held_addresses(store, two_weeks, before_end) == {
        ATP: [(cidr, ends.date().isoformat()) for cidr in expected]
    }
    assert held_addresses(store, two_weeks, ends) == {}
    hours = config(tmp_path, "36h")
    end = dropped + dt.timedelta(hours=36)
    assert held_addresses(store, hours, end - dt.timedelta(seconds=1)) == {
        ATP: [(cidr, end.strftime("%Y-%m-%dT%H:00Z")) for cidr in expected]
    }
    assert held_addresses(store, hours, end) == {}


# --- rendered allow-lists ----------------------------------------------------------------------
def _asa_network(line: str) -> str:
    parts = line.split()
    if parts[1] == "host":
        return parts[2] + ("/128" if ":" in parts[2] else "/32")
    if len(parts) == 3:
        return str(ipaddress.ip_network(f"{parts[1]}/{parts[2]}"))
    return parts[1]


def allow_lists(files: dict[str, str]) -> dict[str, list[str]]:
    """Every allow-list's networks, read from the rendered text of each format."""
    nft = files["nftables/tagsync.nft"]
    forti = files["fortigate/addresses.conf"]
    return {
        "ipset": re.findall(r"^add \S+-tmp (\S+)$", files["iptables/ipset.restore"], re.M),
        "nftables": re.findall(r"^\t(\S+),$", nft, re.M),
        "paloalto": re.findall(
            r"^set address \S+ ip-netmask (\S+)$", files["paloalto/set-commands.txt"], re.M
        ),
        "paloalto-xml": re.findall(r"<ip-netmask>(\S+)</ip-netmask>", files["paloalto/config.xml"]),
        "edl": re.findall(r"^(\S+)", files["paloalto/edl.txt"], re.M),
        "windows": re.findall(r"^\s+'([0-9a-f.:]+/\d+)'", files["windows/rules.ps1"], re.M),
        "fortigate": [
            str(ipaddress.ip_network(f"{a}/{m}"))
            for a, m in re.findall(r"^\s+set subnet (\S+) (\S+)$", forti, re.M)
        ]
        + re.findall(r"^\s+set ip6 (\S+)$", forti, re.M),
        "ciscoasa": [
            _asa_network(line)
            for line in re.findall(r"^ network-object .*$", files["ciscoasa/config.txt"], re.M)
        ],
        "junipersrx": re.findall(
            r"^set security address-book global address \S+ (\S+)$",
            files["junipersrx/set-commands.txt"],
            re.M,
        ),
    }


def render_with_grace(state: Path, grace: Grace, against: str | None) -> dict[str, str]:
    store = Store(state, CLOUDS["public"])
    new = store.load()
    meta = store.meta()
    assert new is not None and meta is not None
    holds = staged(store, new, meta.source, [ATP], grace=grace)[1]
    changes = None
    if against is not None:
        changes = diff_service_tags(parse_service_tags(public(against).read_bytes()), new, [ATP])
    return render_formats(
        new, [ATP], FIREWALLS, settings=settings_of(None), changes=changes, holds=holds
    )


def test_every_allow_list_is_exactly_current_plus_held(runner: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    for week in WEEKS[:2]:
        accept(runner, state, week)
    files = render_with_grace(state, Grace(versions=2), against=WEEKS[0])
    current = published(WEEKS[1])
    held = [ipaddress.ip_network(c) for c in lost(WEEKS[0], WEEKS[1])]
    texts = {str(n) for n in current} | {str(n) for n in held}
    for name, networks in allow_lists(files).items():
        assert networks, name
        # Each list covers exactly the tag now plus what it lost, nothing more.
        assert collapsed(map(ipaddress.ip_network, networks)) == collapsed([*current, *held]), name
        if name not in ("nftables", "ciscoasa", "fortigate"):  # these merge or reformat
            assert set(networks) == texts, name
    for path, text in files.items():
        if path.endswith(("incremental-set-commands.txt", "incremental.conf", "incremental.txt")):
            continue
        for cidr in map(str, held):
            assert f"{cidr} ({ATP}): held for 2 more versions (removal grace)" in text, path
    edl = files["paloalto/edl.txt"].splitlines()
    for cidr in map(str, held):
        assert f"{cidr} # held for 2 more versions (removal grace)" in edl


def deletions(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\s*(delete|no) ", line)]


def mentions(lines: list[str], cidr: str) -> bool:
    network = ipaddress.ip_network(cidr)
    dashed = re.sub(r"[.:]", "-", cidr)
    forms = (cidr, f"{network.network_address} {network.netmask}", dashed, dashed.replace("/", "_"))
    return any(form in line for line in lines for form in forms)


INCREMENTAL = (
    "paloalto/incremental-set-commands.txt",
    "fortigate/incremental.conf",
    "ciscoasa/incremental.txt",
    "junipersrx/incremental-set-commands.txt",
)


def test_incremental_outputs_keep_a_held_prefix_until_its_grace_ends(
    runner: CliRunner, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    (held,) = lost(WEEKS[0], WEEKS[1])
    for week in WEEKS[:2]:
        accept(runner, state, week)
    without = render_with_grace(state, Grace(versions=0), against=WEEKS[0])
    with_grace = render_with_grace(state, Grace(versions=2), against=WEEKS[0])
    for path in INCREMENTAL:
        assert mentions(deletions(without[path]), held), path  # no grace: deleted at once
        assert not mentions(deletions(with_grace[path]), held), path
    for week in WEEKS[2:]:
        accept(runner, state, week)
    ended = render_with_grace(state, Grace(versions=2), against=WEEKS[2])
    for path in INCREMENTAL:
        assert mentions(deletions(ended[path]), held), path  # grace over: now it goes
    assert all(held not in networks for networks in allow_lists(ended).values())
