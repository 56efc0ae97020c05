"""Coverage: the addresses a tag gained and lost, checked against netaddr IPSet arithmetic on the
real published files, plus re-aggregations and the address-based mass-removal guard. (How the
reports and alerts show coverage is tested in test_check_report.py and test_alert.py.)

Expectations come from the raw JSON through netaddr/ipaddress (tests/test_alert_support.py),
never from tagsync's parser or sweep, and no figure is pasted in: each is computed here.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import json
import random
from dataclasses import replace
from typing import Any

import pytest
from conftest import public
from netaddr import IPNetwork, IPSet
from test_alert_support import coverage_document, ipset_coverage, sibling_pair

from tagsync.config import Config
from tagsync.coverage import AddressCounts, address_counts, count_text, diff_coverage
from tagsync.diff import ChangeSet, diff_service_tags, diff_tags
from tagsync.errors import GuardError
from tagsync.guards import check_mass_removal
from tagsync.model import ServiceTags, parse_service_tags

WEEKLY = ("20250728", "20250804", "20250811", "20250818", "20250825", "20250901", "20250908",
          "20251006")  # fmt: skip
DEFAULT_RATIO = Config().max_removal_ratio


@functools.cache
def raw_tags(date: str) -> dict[str, set[str]]:
    """Every tag's prefixes as published, read with plain json (the files are canonical)."""
    document = json.loads(public(date).read_bytes())
    return {
        value["name"]: set(value["properties"]["addressPrefixes"]) for value in document["values"]
    }


@functools.cache
def model(date: str) -> ServiceTags:
    return parse_service_tags(public(date).read_bytes(), source=date)


def family(prefixes: set[str], version: int) -> set[str]:
    return {p for p in prefixes if ipaddress.ip_network(p).version == version}


@functools.cache
def tag_ipset(date: str, name: str) -> IPSet:
    """One tag of one file as a netaddr IPSet (built once: middle weeks serve two pairs)."""
    return IPSet(raw_tags(date).get(name, set()))


def ipset_sizes(addresses: IPSet) -> AddressCounts:
    """Distinct addresses per family, from netaddr's merged CIDRs."""
    sizes = {4: 0, 6: 0}
    for cidr in addresses.iter_cidrs():
        sizes[cidr.version] += cidr.size
    return AddressCounts(sizes[4], sizes[6])


def family_size(prefixes: set[str], version: int) -> int:
    """Distinct addresses of one family, through ipaddress.collapse_addresses."""
    networks = [ipaddress.ip_network(p) for p in prefixes]
    collapsed = ipaddress.collapse_addresses(n for n in networks if n.version == version)
    return sum(network.num_addresses for network in collapsed)


# --- every changed tag of every consecutive weekly pair ---------------------------------------


@pytest.mark.parametrize(("old", "new"), list(itertools.pairwise(WEEKLY)))
def test_coverage_of_every_changed_tag_matches_ipset(old: str, new: str) -> None:
    changes = diff_service_tags(model(old), model(new))
    before, after = raw_tags(old), raw_tags(new)
    text_changed = {
        name
        for name in before.keys() | after.keys()
        if before.get(name, set()) != after.get(name, set())
    }
    assert text_changed <= set(changes.tags)
    for name in text_changed:
        old_set, new_set = tag_ipset(old, name), tag_ipset(new, name)
        change = changes.tags[name]
        expected = coverage_document(old_set, new_set)
        assert change.to_dict()["coverage"] == expected, name
        assert change.reaggregated == (not expected["gained"] and not expected["lost"])
        # What a loss is a share of: counted when the tag lost addresses.
        expected_total = ipset_sizes(old_set) if expected["lost"] else None
        assert change.coverage.old_addresses == expected_total


def test_most_removed_texts_of_a_real_week_are_still_covered() -> None:
    # The point of the feature, on a real week: removed texts far outnumber lost CIDRs.
    changes = diff_service_tags(model("20250804"), model("20250811"))
    still_covered = 0
    for name, change in changes.tags.items():
        remaining = tag_ipset("20250811", name)
        still_covered += sum(IPNetwork(prefix) in remaining for prefix in change.removed)
    assert still_covered > changes.removed_count / 2
    assert changes.lost_count < changes.removed_count


def test_unchanged_release_has_no_coverage_change() -> None:
    changes = diff_service_tags(model("20250811"), model("20250818"))
    assert not changes.changed and not changes.coverage_changed


def test_first_run_gains_every_address() -> None:
    changes = diff_service_tags(None, model("20251006"), ["AzureAdvancedThreatProtection"])
    change = changes.tags["AzureAdvancedThreatProtection"]
    prefixes = raw_tags("20251006")["AzureAdvancedThreatProtection"]
    assert change.to_dict()["coverage"] == ipset_coverage(set(), prefixes)
    assert change.coverage.gained_addresses == AddressCounts(
        family_size(prefixes, 4), family_size(prefixes, 6)
    )
    assert changes.coverage_changed


# --- re-aggregation -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 6])
def test_replacing_two_real_halves_with_their_parent_is_a_reaggregation(version: int) -> None:
    old_tag = model("20251006").tags["AzureCloud"]
    low, high, parent = sibling_pair(old_tag.prefixes, version)
    kept = [p for p in old_tag.prefixes if p not in (low, high)]
    new_tag = replace(old_tag, prefixes=(*kept, parent))

    change = diff_tags(old_tag.name, old_tag, new_tag)
    assert (change.added, set(change.removed)) == ((parent,), {low, high})
    assert change.reaggregated and not change.coverage_changed
    assert change.to_dict()["coverage"] == {
        "gained": [],
        "lost": [],
        "gained_addresses": {"ipv4": 0, "ipv6": 0},
        "lost_addresses": {"ipv4": 0, "ipv6": 0},
    }
    assert change.coverage.old_addresses is None  # nothing lost, nothing to count

    changes = ChangeSet("Public", 1, 2, {change.name: change})
    assert changes.changed and not changes.coverage_changed
    assert changes.reaggregated == (change.name,)
    check_mass_removal(changes, 0.0, "test")  # nothing lost: even a zero tolerance passes


def test_a_covering_prefix_that_adds_addresses_is_not_a_reaggregation() -> None:
    old_tag = model("20251006").tags["AzureCloud"]
    low, high, parent = sibling_pair(old_tag.prefixes, 4)
    grandparent = str(ipaddress.ip_network(parent).supernet())
    kept = [p for p in old_tag.prefixes if p not in (low, high)]
    change = diff_tags(old_tag.name, old_tag, replace(old_tag, prefixes=(*kept, grandparent)))
    expected = ipset_coverage(set(old_tag.prefixes), set(kept) | {grandparent})
    assert change.to_dict()["coverage"] == expected
    assert expected["gained"] and not expected["lost"]
    assert not change.reaggregated and change.coverage_changed


# --- the mass-removal guard counts addresses ----------------------------------------------------


def guard_case(old: str, new: str, tag: str) -> tuple[ChangeSet, dict[str, Any]]:
    """The diff of one tag, and the figures the guard should judge, computed with ipaddress."""
    changes = diff_service_tags(model(old), model(new), [tag])
    before, after = raw_tags(old)[tag], raw_tags(new)[tag]
    figures = {
        "removed_texts": len(before - after),
        "old_texts": len(before),
        "lost": {v: (IPSet(family(before, v)) - IPSet(family(after, v))).size for v in (4, 6)},
        "total": {v: family_size(before, v) for v in (4, 6)},
    }
    return changes, figures


@pytest.mark.parametrize(
    ("old", "new", "tag"),
    [
        ("20221212", "20240819", "EOPExternalPublishedIPs"),
        ("20250127", "20250728", "WindowsVirtualDesktop"),
    ],
)
def test_harmless_reaggregations_pass_the_guard(old: str, new: str, tag: str) -> None:
    changes, figures = guard_case(old, new, tag)
    # Counted as texts, most of the tag went away: the old guard refused these.
    assert figures["removed_texts"] / figures["old_texts"] > DEFAULT_RATIO
    # Counted as addresses, little did.
    for version in (4, 6):
        if figures["total"][version]:
            assert figures["lost"][version] / figures["total"][version] < DEFAULT_RATIO
    check_mass_removal(changes, DEFAULT_RATIO, "test")


def test_a_real_loss_is_refused_with_both_figures() -> None:
    tag = "ActionGroup.CentralIndia"
    changes, figures = guard_case("20221212", "20240819", tag)
    assert figures["lost"][4] / figures["total"][4] > DEFAULT_RATIO
    with pytest.raises(GuardError) as refused:
        check_mass_removal(changes, DEFAULT_RATIO, "source.json")
    message = str(refused.value)
    assert message.startswith("source.json: refusing mass removal")
    assert f"{tag} would lose {figures['removed_texts']} of {figures['old_texts']} prefixes" in (
        message
    )
    share = figures["lost"][4] / figures["total"][4]
    assert f"{figures['lost'][4]} of {figures['total'][4]} IPv4 addresses ({share:.1%})" in message
    assert f"{figures['lost'][6]} of {figures['total'][6]} IPv6 addresses" in message
    assert "--force" in message


def test_losing_one_family_is_enough_to_refuse() -> None:
    old_tag = model("20251006").tags["AzureAdvancedThreatProtection"]
    new_tag = replace(old_tag, prefixes=tuple(old_tag.ipv4))  # every IPv6 prefix dropped
    change = diff_tags(old_tag.name, old_tag, new_tag)
    assert len(change.removed) / change.old_count < DEFAULT_RATIO  # few texts
    changes = ChangeSet("Public", 1, 2, {change.name: change})
    with pytest.raises(GuardError) as refused:
        check_mass_removal(changes, DEFAULT_RATIO, "test")
    total = count_text(family_size(set(old_tag.prefixes), 6))
    assert f"{total} of {total} IPv6 addresses (100.0%)" in str(refused.value)


# --- the interval arithmetic on its own ---------------------------------------------------------


def random_prefixes(rng: random.Random, version: int, count: int) -> set[str]:
    """Prefixes packed into a small space so that they nest, overlap and touch often."""
    bits = 32 if version == 4 else 128
    base = int(ipaddress.ip_network("10.0.0.0/24" if version == 4 else "2603:1000::/120")[0])
    prefixes = set()
    for _ in range(count):
        length = rng.randint(bits - 6, bits)
        offset = rng.randrange(256) >> (bits - length) << (bits - length)
        prefixes.add(str(ipaddress.ip_network((base + offset, length))))
    return prefixes


@pytest.mark.parametrize("seed", range(200))
def test_random_nested_and_touching_prefixes_match_ipset(seed: int) -> None:
    rng = random.Random(seed)
    old = random_prefixes(rng, 4, rng.randint(0, 12)) | random_prefixes(rng, 6, rng.randint(0, 8))
    new = random_prefixes(rng, 4, rng.randint(0, 12)) | random_prefixes(rng, 6, rng.randint(0, 8))
    coverage = diff_coverage(old, new)
    assert coverage.to_dict() == ipset_coverage(old, new)
    expected_total = AddressCounts(family_size(old, 4), family_size(old, 6))
    assert coverage.old_addresses == (expected_total if coverage.lost else None)
    assert address_counts(new) == AddressCounts(family_size(new, 4), family_size(new, 6))


def test_count_text_is_exact_for_ipv4_and_short_for_ipv6() -> None:
    everything_v4 = ipaddress.ip_network("0.0.0.0/0").num_addresses
    slash48 = ipaddress.ip_network("2603:1000::/48").num_addresses
    assert count_text(everything_v4) == f"{everything_v4:,}"
    assert count_text(slash48) == f"2^{128 - 48}"
    assert count_text(slash48 + 8).startswith("~1.21e24")
    assert AddressCounts(0, 0).text() == "no addresses"
    assert AddressCounts(8, slash48).text() == "8 IPv4 + 2^80 IPv6 addresses"
