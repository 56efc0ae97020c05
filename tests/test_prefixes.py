"""Strict CIDR parsing, numeric ordering, family selection and aggregation."""

from __future__ import annotations

import ipaddress

import pytest

from tagsync.prefixes import (
    InvalidPrefix,
    aggregate,
    canonical_prefix,
    select_family,
    sort_prefixes,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("1.2.3.4/32", "1.2.3.4/32"),
        ("2603:1000:4::/47", "2603:1000:4::/47"),
        ("2603:1000:0004:0000::/64", "2603:1000:4::/64"),
        ("2A01:111:F100::/48", "2a01:111:f100::/48"),
        ("::/0", "::/0"),
    ],
)
def test_canonical_prefix_accepts_and_normalises(text: str, expected: str) -> None:
    assert canonical_prefix(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.0",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "010.0.0.0/8",
        "10.0.0.0/08",
        "10.0.0/8",
        "2603::/129",
        "2603::1/64",
        "not-an-ip/24",
        "10.0.0.0/ 8",
        "10.0.0.0/8\n",
        "10.0.0.0/8; rm -rf /",
        "",
    ],
)
def test_canonical_prefix_rejects(text: str) -> None:
    with pytest.raises(InvalidPrefix):
        canonical_prefix(text)


def test_sort_is_numeric_ipv4_first_and_deduplicated() -> None:
    mixed = ["10.0.0.0/8", "9.0.0.0/8", "2603::/16", "10.0.0.0/16", "9.0.0.0/8", "100.0.0.0/8"]
    assert sort_prefixes(mixed) == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "10.0.0.0/16",
        "100.0.0.0/8",
        "2603::/16",
    ]


def test_select_family() -> None:
    mixed = ["1.0.0.0/8", "2603::/16"]
    assert select_family(mixed, ipv6=False) == ["1.0.0.0/8"]
    assert select_family(mixed, ipv4=False) == ["2603::/16"]


def test_aggregate_matches_stdlib_collapse() -> None:
    prefixes = [
        "10.0.0.0/25",
        "10.0.0.128/25",
        "10.0.1.0/24",
        "10.0.1.5/32",
        "2603::/17",
        "2603:8000::/17",
    ]
    expected = [
        str(n)
        for n in sorted(
            [
                *ipaddress.collapse_addresses(
                    ipaddress.ip_network(p) for p in prefixes if ":" not in p
                ),
                *ipaddress.collapse_addresses(
                    ipaddress.ip_network(p) for p in prefixes if ":" in p
                ),
            ],
            key=lambda n: (n.version, n.network_address, n.prefixlen),
        )
    ]
    assert aggregate(prefixes) == expected


@pytest.mark.parametrize(
    "items",
    [
        ["10.0.0.1/8"],
        ["2603::1/64"],
        ["2603:0::/64"],
        ["2A01::/16"],
        ["1.2.3.4/08"],
        ["1.2.3.4"],
        ["01.2.3.4/32"],
        ["1.2.3.4/32", 5],
        ["1.2.3.4/33"],
        ["1.2.3.4/ 8"],
        ["::/129"],
        ["1.2.3.4/32/1"],
        ["x/1"],
    ],
)
def test_all_canonical_agrees_with_the_per_item_check(items: list[object]) -> None:
    from tagsync.prefixes import all_canonical

    good = ["10.0.0.0/8", "2603:1000::/24", "1.2.3.4/32"]
    assert all_canonical(good)
    assert not all_canonical(good + items)
    assert not all_canonical(items)


def test_aggregate_agrees_with_stdlib_on_random_overlapping_networks() -> None:
    import random

    rng = random.Random(20251006)
    for _ in range(50):
        networks = []
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.7:
                length = rng.randint(20, 32)
                base = (
                    rng.randrange(0x0A000000, 0x0A000000 + 2**14) >> (32 - length) << (32 - length)
                )
                networks.append(ipaddress.IPv4Network((base, length)))
            else:
                length = rng.randint(116, 128)
                base = (0x2603 << 112) + rng.randrange(2**14)
                base = base >> (128 - length) << (128 - length)
                networks.append(ipaddress.IPv6Network((base, length)))
        expected = [
            str(n)
            for family in (4, 6)
            for n in ipaddress.collapse_addresses(x for x in networks if x.version == family)
        ]
        assert aggregate([str(n) for n in networks]) == expected


def test_sort_and_aggregate_agree_with_stdlib_on_every_real_tag() -> None:
    import json

    from conftest import public

    document = json.loads(public("20251006").read_bytes())
    for value in document["values"]:
        networks = {ipaddress.ip_network(p) for p in value["properties"]["addressPrefixes"]}
        ordered = sorted(networks, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
        prefixes = value["properties"]["addressPrefixes"]
        assert sort_prefixes(prefixes) == [str(n) for n in ordered], value["name"]
        collapsed = [
            str(n)
            for family in (4, 6)
            for n in ipaddress.collapse_addresses(x for x in networks if x.version == family)
        ]
        assert aggregate(prefixes) == collapsed, value["name"]
