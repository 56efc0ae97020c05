"""`tagsync lookup` and the lookup index, checked against an independent scan of the real file."""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import public
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.clouds import get_cloud
from tagsync.lookup import InvalidQuery, LookupIndex, parse_query
from tagsync.model import parse_service_tags
from tagsync.store import Store

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Expected = list[tuple[str, str, str]]  # (tag, region, prefix), most specific first


@pytest.fixture(scope="module")
def latest() -> Path:
    return public("20251006")


@pytest.fixture(scope="module")
def table(latest: Path) -> list[tuple[Network, str, str]]:
    """Every (network, tag, region) of the file, read with plain json + ipaddress."""
    document = json.loads(latest.read_bytes())
    rows = []
    for value in document["values"]:
        region = value["properties"].get("region", "")
        for prefix in value["properties"]["addressPrefixes"]:
            rows.append((ipaddress.ip_network(prefix), value["name"], region))
    return rows


@pytest.fixture(scope="module")
def index(latest: Path) -> LookupIndex:
    return LookupIndex(parse_service_tags(latest.read_bytes()).tags.values())


_RANGES: dict[int, list[tuple[int, int, int, int, str, str, str]]] = {}


def expected_for(table: list[tuple[Network, str, str]], query: Network) -> Expected:
    """Scan every prefix: each tag once with its longest prefix containing the query."""
    ranges = _RANGES.get(id(table))
    if ranges is None:  # integer bounds once per table, so the scan stays a plain comparison
        ranges = _RANGES[id(table)] = [
            (
                n.version,
                int(n.network_address),
                int(n.broadcast_address),
                n.prefixlen,
                name,
                region,
                str(n),
            )
            for n, name, region in table
        ]
    low, high = int(query.network_address), int(query.broadcast_address)
    best: dict[str, tuple[int, str, str]] = {}
    for version, first, last, length, name, region, text in ranges:
        contains = version == query.version and first <= low and high <= last
        if contains and (name not in best or length > best[name][0]):
            best[name] = (length, region, text)
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return [(name, region, text) for name, (_, region, text) in ordered]


def queries(table: list[tuple[Network, str, str]], count: int) -> list[str]:
    """Addresses inside, at the edges of and just outside real prefixes, networks, misses."""
    rng = random.Random(6)
    chosen: list[str] = []
    for _ in range(count):
        network = rng.choice(table)[0]
        kind = rng.randrange(6)
        if kind == 0:
            chosen.append(str(network.network_address + rng.randrange(network.num_addresses)))
        elif kind == 1:
            chosen.append(str(network.broadcast_address))
        elif kind == 2:
            outside = int(network.broadcast_address) + 1
            if outside < 2**network.max_prefixlen:
                chosen.append(
                    str(
                        ipaddress.ip_address(outside)
                        if network.version == 4
                        else ipaddress.IPv6Address(outside)
                    )
                )
        elif kind == 3:
            chosen.append(str(network))
        elif kind == 4 and network.prefixlen < network.max_prefixlen:
            chosen.append(str(next(network.subnets(prefixlen_diff=1))))
        elif network.prefixlen > 4:
            chosen.append(str(network.supernet(prefixlen_diff=3)))
    chosen += ["1.1.1.1", "0.0.0.0", "255.255.255.255", "::", "2001:db8::1", "10.0.0.0/8"]
    return chosen


def as_network(text: str) -> Network:
    return ipaddress.ip_network(text)


def test_index_matches_a_full_scan(
    table: list[tuple[Network, str, str]], index: LookupIndex
) -> None:
    checked = 0
    for text in queries(table, 250):
        got = [(m.tag, m.region, m.prefix) for m in index.lookup(text)]
        assert got == expected_for(table, as_network(text)), text
        checked += 1
    assert checked > 200


def test_most_specific_first_and_ties_by_name(
    table: list[tuple[Network, str, str]], index: LookupIndex
) -> None:
    # An address of a small prefix of a service tag: the service tags come before AzureCloud.
    network = next(
        n for n, name, _ in table if name.startswith("AzureMonitor.") and n.prefixlen >= 27
    )
    matches = index.lookup(str(network.network_address))
    lengths = [int(m.prefix.split("/")[1]) for m in matches]
    assert lengths == sorted(lengths, reverse=True)
    assert len(matches) >= 3
    for a, b in itertools.pairwise(matches):
        if a.prefix == b.prefix:
            assert a.tag < b.tag
    assert len({m.tag for m in matches}) == len(matches)


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4(index: LookupIndex, table: list[Any]) -> None:
    network = next(n for n, _, _ in table if n.version == 4)
    plain = index.lookup(str(network.network_address))
    assert plain
    assert index.lookup(f"::ffff:{network.network_address}") == plain


@pytest.mark.parametrize(
    "text",
    [
        "",
        "foo",
        "1.2.3",
        "1.2.3.4/33",
        "10.0.0.1/8",
        "::1/129",
        "1.2.3.4/x",
        "fe80::1%eth0",
        "1.2.3.4/08",
        "1.2.3.4/",
    ],
)
def test_bad_queries_are_refused(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_query(text)


def test_tag_option_limits_the_search(runner: CliRunner, latest: Path, table: list[Any]) -> None:
    network = next(n for n, name, _ in table if name == "AzureCloud.westeurope")
    address = str(network.network_address)
    result = runner.invoke(
        app, ["lookup", "--file", str(latest), "--tag", "azurecloud.WESTEUROPE", address]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{address}\tAzureCloud.westeurope\twesteurope\t{network}\n"
    with_regions = runner.invoke(
        app, ["lookup", "-f", str(latest), "-t", "AzureCloud", "--regions", address]
    )
    tags = [line.split("\t")[1] for line in with_regions.stdout.splitlines()]
    limited = [(n, r, p) for n, r, p in expected_for(table, network) if n.startswith("AzureCloud")]
    # expected_for() gives the most specific prefix per tag; the CLI shows the same tags.
    assert tags == [name for name, _, _ in limited]


def test_cli_reads_stdin_skips_comments_and_reports_bad_lines(
    runner: CliRunner, latest: Path, table: list[tuple[Network, str, str]]
) -> None:
    good = queries(table, 30)
    lines = [
        "# firewall log extract",
        "",
        good[0],
        "not-an-ip",
        *good[1:],
        "10.0.0.1/8  # host bits",
    ]
    result = runner.invoke(app, ["lookup", "--file", str(latest)], input="\n".join(lines) + "\n")
    assert result.exit_code == 3
    assert "line 4: 'not-an-ip'" in result.stderr
    assert f"line {len(lines)}: '10.0.0.1/8'" in result.stderr
    assert "Traceback" not in result.output
    expected_lines = []
    for text in good:
        rows = expected_for(table, as_network(text)) or [("-", "-", "-")]
        expected_lines += [
            f"{text}\t{name}\t{region or '-'}\t{prefix}" for name, region, prefix in rows
        ]
    assert result.stdout.splitlines() == expected_lines


def test_cli_json_and_snapshot_source(
    runner: CliRunner, latest: Path, state_dir: Path, table: list[tuple[Network, str, str]]
) -> None:
    data = latest.read_bytes()
    store = Store(state_dir, get_cloud("public"))
    with store.locked():
        store.save(data, parse_service_tags(data, source=str(latest)), str(latest))
    picked = queries(table, 12)
    result = runner.invoke(
        app,
        ["lookup", "--state-dir", str(state_dir), "--format", "json", "-", *picked[:2]],
        input="\n".join(picked[2:]) + "\n",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["change_number"] == json.loads(data)["changeNumber"]
    order = picked[2:] + picked[:2]
    assert [r["query"] for r in document["results"]] == order
    for entry in document["results"]:
        got = [(m["tag"], m["region"], m["prefix"]) for m in entry["matches"]]
        assert got == expected_for(table, as_network(entry["query"]))
    again = runner.invoke(
        app,
        ["lookup", "--state-dir", str(state_dir), "--format", "json", "-", *picked[:2]],
        input="\n".join(picked[2:]) + "\n",
    )
    assert again.stdout == result.stdout


def test_cli_usage_errors(runner: CliRunner, latest: Path) -> None:
    bad_format = runner.invoke(app, ["lookup", "-f", str(latest), "--format", "xml", "1.1.1.1"])
    assert bad_format.exit_code == 2
    unknown = runner.invoke(app, ["lookup", "-f", str(latest), "-t", "NoSuchTag", "1.1.1.1"])
    assert unknown.exit_code == 3
    assert "no tag named" in unknown.stderr
    assert "Traceback" not in unknown.output
