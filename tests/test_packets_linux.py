"""Linux outputs applied as an admin would, proven by real TCP connections.

Each test builds a private topology (tests/netns.py: real namespaces and veth pairs; the far
end owns every address and listens on the probed ports), loads an admin ruleset that drops or
rejects by default, applies tagsync's files with their own ``apply.sh`` (or the commands their
header gives), and connects. The expected outcome of every probe comes from the published JSON
through stdlib ``ipaddress`` (tests/tag_probes.py), never from tagsync.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import NETNS_SOURCES, public
from netns import Probe, Topology, stop_probing, tally
from tag_probes import TagAddresses

from tagsync.model import parse_service_tags
from tagsync.render import render_formats, render_settings, write_rendered

TAG = "AzureAdvancedThreatProtection"
NEWEST = "20251006"
VERSIONS = ("20240819", "20250908", "20251006")  # older and newer real files, re-applied
(ALLOWED4, ALLOWED6), (OTHER4, OTHER6) = NETNS_SOURCES

pytestmark = [
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("ip", "ipset", "iptables-restore", "nft")),
        reason="iproute2, iptables, ipset and nftables are needed",
    ),
]

# Admin rulesets the files must work under.
IPTABLES_REJECT = """
for tool in iptables ip6tables; do
  $tool -A OUTPUT -o lo -j ACCEPT
  $tool -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  $tool -A OUTPUT -p udp --dport 53 -j ACCEPT
  $tool -A OUTPUT -j REJECT
done
"""
IPTABLES_FORWARD_DROP = """
for tool in iptables ip6tables; do
  $tool -P FORWARD DROP
  $tool -A FORWARD -p tcp --dport 22 -j ACCEPT
done
"""
IPTABLES_ALL_DROP = """
for tool in iptables ip6tables; do
  $tool -P INPUT DROP; $tool -P FORWARD DROP; $tool -P OUTPUT DROP
done
"""
NFT_FILTER = """
nft -f - <<'EOF'
table inet filter {
  chain input { type filter hook input priority filter; policy %(input)s; }
  chain forward { type filter hook forward priority filter; policy %(forward)s; }
  chain output {
    type filter hook output priority filter; policy %(output)s;
    oif "lo" accept
    ct state established,related accept
  }
}
EOF
"""
NFT_OUTPUT_DROP = NFT_FILTER % {"input": "accept", "forward": "accept", "output": "drop"}
NFT_FORWARD_DROP = NFT_FILTER % {"input": "accept", "forward": "drop", "output": "accept"}
NFT_ALL_DROP = NFT_FILTER % {"input": "drop", "forward": "drop", "output": "drop"}


def render(tmp: Path, date: str, formats: list[str], config: dict[str, Any]) -> Path:
    path = public(date)
    st = parse_service_tags(path.read_bytes(), source=str(path))
    out = tmp / f"{date}-{'-'.join(formats)}"
    write_rendered(render_formats(st, [TAG], formats, settings=render_settings(config)), out)
    return out


def expected_probes(
    rng: random.Random, source: tuple[str, str] | None = None
) -> tuple[list[Probe], set[Probe]]:
    """(probes, the ones that must connect) for the newest file: inside on 443 pass; outside
    on 443 and inside on 80 do not."""
    tag = TagAddresses.of(public(NEWEST), TAG)
    inside, outside = tag.inside(rng), tag.outside(rng)

    def src(address: str) -> str | None:
        return None if source is None else source[":" in address]

    allowed = {Probe(a, 443, src(a)) for a in inside}
    probes = sorted(allowed, key=str)
    probes += [Probe(a, 443, src(a)) for a in outside]
    probes += [Probe(a, 80, src(a)) for a in rng.sample(inside, 40)]
    return probes, allowed


def saved(topology: Topology, role: str, what: str) -> str:
    """The ruleset without counters, timestamps and ipset's hash seed (which change with
    traffic, time and every swap)."""
    text = topology.run(role, what).stdout
    text = re.sub(r"\[\d+:\d+\]", "[0:0]", text)
    text = re.sub(r" initval 0x[0-9a-f]+", "", text)
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def without_tagsync(topology: Topology, role: str, names: set[str]) -> list[dict[str, Any]]:
    """``nft -j list ruleset`` without tagsync's sets, chain, its rules and the jumps to it
    (handles included: the admin's objects must be the very same ones)."""
    items = json.loads(topology.run(role, "nft -j list ruleset").stdout)["nftables"]
    kept = []
    for item in items:
        kind, body = next(iter(item.items()))
        if kind == "metainfo" or (kind in ("set", "chain") and body["name"] in names):
            continue
        if kind == "rule" and (
            body["chain"] in names
            or any(e.get("jump", {}).get("target") in names for e in body["expr"])
        ):
            continue
        kept.append(item)
    return kept


IPTABLES_STATE = "iptables-save; ip6tables-save; ipset save -sorted"


def check(topology: Topology, role: str, scenario: str, probes: list[Probe], allowed: set[Probe]):
    done = topology.probe(role, probes)
    line = tally(scenario, probes, done, allowed)
    assert "leaked 0, lost 0" in line, line


@pytest.fixture
def host(netns_host: Topology) -> Topology:
    return netns_host


@pytest.fixture
def gateway(netns_gateway: Topology) -> Topology:
    return netns_gateway


# --- Host mode (OUTPUT) ----------------------------------------------------------------------
@pytest.mark.slow
def test_iptables_under_an_output_ending_in_reject(host: Topology, tmp_path: Path) -> None:
    out = render(tmp_path, NEWEST, ["iptables"], {})
    host.run("host", IPTABLES_REJECT)
    before = saved(host, "host", "iptables-save; ip6tables-save")
    host.run("host", "sh iptables/apply.sh", cwd=out)
    probes, allowed = expected_probes(random.Random(1))
    check(host, "host", "iptables OUTPUT ending in REJECT", probes, allowed)
    first = saved(host, "host", IPTABLES_STATE)
    host.run("host", "sh iptables/apply.sh", cwd=out)
    assert saved(host, "host", IPTABLES_STATE) == first  # applying twice changes nothing
    # Only tagsync's chain, sets and one jump (inserted first) were added; nothing else moved.
    after = saved(host, "host", "iptables-save; ip6tables-save")
    ours = re.compile(r"^(:TAGSYNC-OUT |-A TAGSYNC-OUT |-A OUTPUT -j TAGSYNC-OUT$)")
    assert [x for x in after.splitlines() if not ours.match(x)] == before.splitlines()
    rules = host.run("host", "iptables -S OUTPUT; ip6tables -S OUTPUT").stdout.splitlines()
    assert [r for r in rules if not r.startswith("-P")][0::5] == ["-A OUTPUT -j TAGSYNC-OUT"] * 2


@pytest.mark.slow
def test_nftables_in_the_admins_table_with_output_policy_drop(
    host: Topology, tmp_path: Path
) -> None:
    out = render(tmp_path, NEWEST, ["nftables"], {"nftables": {"table": "filter"}})
    host.run("host", NFT_OUTPUT_DROP)
    before = without_tagsync(host, "host", set())
    host.run("host", "sh nftables/apply.sh", cwd=out)
    probes, allowed = expected_probes(random.Random(2))
    check(host, "host", "nftables in inet filter, output policy drop", probes, allowed)
    first = saved(host, "host", "nft list ruleset")
    host.run("host", "sh nftables/apply.sh", cwd=out)
    assert saved(host, "host", "nft list ruleset") == first
    # The admin's table keeps its chains, policies and rules; the jump comes first.
    output = host.run("host", "nft list chain inet filter output").stdout
    assert re.search(r"policy drop;\n\t\tjump tagsync_out\n\t\toif \"lo\" accept\n", output)
    assert without_tagsync(host, "host", {"azure_v4", "azure_v6", "tagsync_out"}) == before


@pytest.mark.slow
def test_nftables_default_table_gains_nothing_under_a_drop_elsewhere(
    host: Topology, tmp_path: Path
) -> None:
    """Why `table` must name the admin's table: an accept in tagsync's own table does not
    override the drop in inet filter (nothing in the tag gets through, nothing else either)."""
    out = render(tmp_path, NEWEST, ["nftables"], {})
    host.run("host", NFT_OUTPUT_DROP)
    host.run("host", "sh nftables/apply.sh", cwd=out)
    probes, _ = expected_probes(random.Random(3))
    probes = probes[:60]
    check(host, "host", "nftables own table under inet filter drop", probes, set())


@pytest.mark.slow
def test_nftables_standalone_on_a_host_without_ruleset(host: Topology, tmp_path: Path) -> None:
    out = render(tmp_path, NEWEST, ["nftables"], {"nftables": {"mode": "standalone"}})
    host.run("host", "sh nftables/apply.sh", cwd=out)
    probes, allowed = expected_probes(random.Random(4))
    check(host, "host", "nftables standalone (policy drop)", probes, allowed)
    first = saved(host, "host", "nft list ruleset")
    host.run("host", "sh nftables/apply.sh", cwd=out)
    assert saved(host, "host", "nft list ruleset") == first
    # A table holding anything tagsync does not own is refused, and left as it was.
    host.run("host", "nft add chain inet tagsync admin_chain")
    before = saved(host, "host", "nft list ruleset")
    result = host.run("host", "sh nftables/apply.sh", cwd=out, check=False)
    assert result.returncode == 1 and "admin_chain" in result.stderr
    assert saved(host, "host", "nft list ruleset") == before


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["iptables", "nftables"])
def test_reapplying_older_and_newer_versions_loses_no_connection(
    host: Topology, tmp_path: Path, fmt: str
) -> None:
    config = {"nftables": {"table": "filter"}}
    outs = [render(tmp_path, date, [fmt], config) for date in VERSIONS]
    host.run("host", IPTABLES_REJECT if fmt == "iptables" else NFT_OUTPUT_DROP)
    versions = [TagAddresses.of(public(date), TAG) for date in VERSIONS]
    rng = random.Random(5)
    common = [a for a in versions[-1].inside(rng) if all(v.holds(a) for v in versions)]
    probes = [Probe(a, 443) for a in common]
    script = "sh apply.sh"
    host.run("host", script, cwd=outs[-1] / fmt)
    prober = host.start_probing("host", probes)
    applied = 0
    try:
        for _ in range(4):
            for out in [*outs, *reversed(outs[:-1])]:
                host.run("host", script, cwd=out / fmt)
                applied += 1
    finally:
        tried, failed = stop_probing(prober)
    line = f"{fmt} re-applied {applied} times while probing"
    tally(line, [Probe("x", 0)] * tried, [True] * (tried - len(failed)) + [False] * len(failed),
          {Probe("x", 0)})  # fmt: skip
    assert tried >= len(probes) and failed == []
    # After the loop the oldest version is live: what only newer versions hold is closed.
    only_newer = [a for a in versions[-1].inside(rng) if not versions[0].holds(a)]
    assert only_newer
    done = host.probe("host", [Probe(a, 443) for a in only_newer])
    tally(f"{fmt} after loop, only in newer", [Probe(a, 443) for a in only_newer], done, set())
    assert not any(done)


# --- Gateway mode (FORWARD) ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["iptables", "nftables"])
def test_forward_mode_only_from_the_allowed_sources(
    gateway: Topology, tmp_path: Path, fmt: str
) -> None:
    options = {"hook": "forward", "sources": [ALLOWED4, ALLOWED6]}
    if fmt == "nftables":
        options["table"] = "filter"
    out = render(tmp_path, NEWEST, [fmt], {fmt: options})
    gateway.run("gw", IPTABLES_FORWARD_DROP if fmt == "iptables" else NFT_FORWARD_DROP)
    gateway.run("gw", f"sh {fmt}/apply.sh", cwd=out)
    probes, allowed = expected_probes(random.Random(6), (ALLOWED4, ALLOWED6))
    others, _ = expected_probes(random.Random(6), (OTHER4, OTHER6))
    check(gateway, "sensor", f"{fmt} forward from an allowed source", probes, allowed)
    check(gateway, "sensor", f"{fmt} forward from another source", others, set())
    state = IPTABLES_STATE if fmt == "iptables" else "nft list ruleset"
    first = saved(gateway, "gw", state)
    gateway.run("gw", f"sh {fmt}/apply.sh", cwd=out)
    assert saved(gateway, "gw", state) == first


# --- mdi-sensor: a gateway profile -----------------------------------------------------------
MDI = {
    "dns_servers": ["10.0.0.53", "fd53::53"],
    "radius_servers": ["10.0.5.10"],
    "device_subnets": ["10.1.0.0/16", "fd01::/48"],
    "sensors": [ALLOWED4, ALLOWED6],
    "nft_table": "filter",
}


def mdi_probes(rng: random.Random, source: tuple[str, str]) -> tuple[list[Probe], set[Probe]]:
    tag = TagAddresses.of(public(NEWEST), TAG)

    def at(address: str, port: int) -> Probe:
        return Probe(address, port, source[":" in address])

    devices = []
    for subnet in map(ipaddress.ip_network, MDI["device_subnets"]):
        first, last = int(subnet.network_address), int(subnet.broadcast_address)
        devices += [str(ipaddress.ip_address(n)) for n in (first, last, rng.randint(first, last))]
    allowed = {at(a, 443) for a in tag.inside(rng, 10)}
    allowed |= {at(a, 53) for a in ("10.0.0.53", "fd53::53")}
    allowed |= {at(a, port) for a in devices for port in (445, 135, 3389)}
    refused = [at(a, 443) for a in tag.outside(rng, 10, 10)]
    refused += [at(a, 80) for a in [*devices, "10.0.0.53", "fd53::53"]]
    refused += [at(a, 443) for a in ("10.0.0.54", "fd53::54", "10.2.0.1", "fd02::1")]
    return sorted(allowed, key=str) + refused, allowed


@pytest.mark.slow
@pytest.mark.parametrize("form", ["iptables", "nftables"])
def test_mdi_gateway_profile_under_drop_policies(
    gateway: Topology, tmp_path: Path, form: str
) -> None:
    out = render(tmp_path, NEWEST, ["mdi-sensor"], {"mdi-sensor": MDI}) / "mdi-sensor"
    if form == "iptables":
        gateway.run("gw", IPTABLES_ALL_DROP)
        load = """
        ipset restore -f ipset.restore
        iptables-restore --noflush < iptables.rules
        ip6tables-restore --noflush < ip6tables.rules
        for tool in iptables ip6tables; do for chain in TAGSYNC-MDI-OUT TAGSYNC-MDI-IN; do
          $tool -C FORWARD -j $chain 2>/dev/null || $tool -I FORWARD 1 -j $chain
        done; done
        """
    else:
        gateway.run("gw", NFT_ALL_DROP)
        load = """
        nft -f nftables.nft
        nft list chain inet filter forward | grep -q 'jump tagsync_mdi$' ||
          nft insert rule inet filter forward jump tagsync_mdi
        """
    gateway.run("gw", load, cwd=out)
    probes, allowed = mdi_probes(random.Random(7), (ALLOWED4, ALLOWED6))
    others, _ = mdi_probes(random.Random(7), (OTHER4, OTHER6))
    check(gateway, "sensor", f"mdi-sensor {form} gateway, from the sensor", probes, allowed)
    check(gateway, "sensor", f"mdi-sensor {form} gateway, from another host", others, set())
    state = IPTABLES_STATE if form == "iptables" else "nft list ruleset"
    first = saved(gateway, "gw", state)
    gateway.run("gw", load, cwd=out)
    assert saved(gateway, "gw", state) == first
