"""Address groups in the render config: addresses, networks, ranges and globs become CIDRs."""

from __future__ import annotations

import ipaddress

import pytest

from tagsync.errors import ConfigError
from tagsync.formats.checks import address_list


def test_addresses_and_networks_become_sorted_canonical_prefixes() -> None:
    assert address_list(["10.0.1.53", "10.0.0.0/16", "2603:1000:0::1"], "g") == (
        "10.0.0.0/16",
        "10.0.1.53/32",
        "2603:1000::1/128",
    )


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("10.0.0.10-10.0.0.20", "10.0.0.10", "10.0.0.20"),
        ("10.0.0.0 - 10.0.3.255", "10.0.0.0", "10.0.3.255"),
        ("2603:1000::-2603:1000::ff", "2603:1000::", "2603:1000::ff"),
        ("192.168.1.*", "192.168.1.0", "192.168.1.255"),
        ("10.2.*.*", "10.2.0.0", "10.2.255.255"),
    ],
)
def test_ranges_and_globs_cover_exactly_their_addresses(text: str, first: str, last: str) -> None:
    expected = [
        str(n)
        for n in ipaddress.summarize_address_range(
            ipaddress.ip_address(first), ipaddress.ip_address(last)
        )
    ]
    assert list(address_list([text], "g")) == expected


@pytest.mark.parametrize(
    "text",
    ["10.0.0.20-10.0.0.10", "10.0.0.1-", "10.0.0.1-2603::1", "10.*.0.1", "a-b", "10.0.0.1-x;rm"],
)
def test_bad_ranges_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="g: "):
        address_list([text], "g")
