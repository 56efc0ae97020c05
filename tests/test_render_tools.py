"""Rendered iptables/ipset/nftables output loaded by the real tools in a private namespace."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import public

from tagsync.formats.iptables import ipset_sizing
from tagsync.model import parse_service_tags
from tagsync.render import render_formats, render_settings, write_rendered

MDI_CONFIG = {
    "mdi-sensor": {
        "dns_servers": ["10.0.0.53", "fd00::53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16", "10.0.0.0/24", "fd00::/48"],  # overlap on purpose
        "sensors": ["10.0.0.20"],
    }
}

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("unshare", "ipset", "iptables-restore", "nft")),
    reason="iptables, ipset, nftables and unshare are needed",
)


def in_namespace(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a fresh network namespace (sets and rules vanish with it)."""
    return subprocess.run(
        ["unshare", "-n", "sh", "-ec", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def expected(path: Path, tag: str) -> tuple[set[str], set[str]]:
    """The tag's prefixes by family, computed independently from the JSON file."""
    document = json.loads(path.read_bytes())
    prefixes = next(v for v in document["values"] if v["name"] == tag)["properties"][
        "addressPrefixes"
    ]
    networks = {ipaddress.ip_network(p) for p in prefixes}
    return (
        {str(n) for n in networks if n.version == 4},
        {str(n) for n in networks if n.version == 6},
    )


def members(listing: str) -> set[str]:
    lines = listing.split("Members:\n", 1)[1].split()
    # ipset lists a /32 or /128 host entry without its length.
    return {str(ipaddress.ip_network(line)) for line in lines}


def nft_networks(element: object) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """nft -j shows an element as an address, a prefix or (after auto-merge) a range."""
    if isinstance(element, str):
        return [ipaddress.ip_network(element)]
    assert isinstance(element, dict)
    if "prefix" in element:
        return [ipaddress.ip_network(f"{element['prefix']['addr']}/{element['prefix']['len']}")]
    low, high = (ipaddress.ip_address(a) for a in element["range"])
    return list(ipaddress.summarize_address_range(low, high))  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["AzureAdvancedThreatProtection", "AzureCloud"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = public("20251006")
    st = parse_service_tags(path.read_bytes(), source=str(path))
    files = render_formats(
        st,
        [request.param],
        ["iptables", "nftables", "mdi-sensor"],
        settings=render_settings(MDI_CONFIG),
    )
    out = tmp_path_factory.mktemp(request.param)
    write_rendered(files, out)
    (out / "tag").write_text(request.param)
    return out


@needs_tools
@pytest.mark.slow
def test_ipset_and_iptables_load_and_match_the_file(rendered: Path) -> None:
    tag = (rendered / "tag").read_text()
    v4, v6 = expected(public("20251006"), tag)
    assert v4 and v6
    result = in_namespace(
        "ipset restore -f iptables/ipset.restore\n"
        "iptables-restore --test --noflush < iptables/iptables.rules\n"
        "ip6tables-restore --test --noflush < iptables/ip6tables.rules\n"
        "iptables-restore --test --noflush < mdi-sensor/iptables.rules\n"
        "ip6tables-restore --test --noflush < mdi-sensor/ip6tables.rules\n"
        "ipset list tagsync4; echo ====; ipset list tagsync6\n",
        rendered,
    )
    assert result.returncode == 0, result.stderr
    listing4, listing6 = result.stdout.split("====\n")
    assert members(listing4) == v4
    assert members(listing6) == v6
    assert "family inet " in listing4 and "family inet6 " in listing6


@needs_tools
@pytest.mark.slow
def test_nft_checks_both_files(rendered: Path) -> None:
    result = in_namespace(
        "nft -c -f nftables/tagsync.nft\nnft -c -f mdi-sensor/nftables.nft\n", rendered
    )
    assert result.returncode == 0, result.stderr


@needs_tools
@pytest.mark.slow
def test_nft_set_covers_exactly_the_prefixes(rendered: Path) -> None:
    tag = (rendered / "tag").read_text()
    v4, v6 = expected(public("20251006"), tag)
    result = in_namespace(
        "nft -f nftables/tagsync.nft\nnft -j list set inet tagsync azure_v4\n"
        "echo ====\nnft -j list set inet tagsync azure_v6\n",
        rendered,
    )
    assert result.returncode == 0, result.stderr
    for text, want in zip(result.stdout.split("====\n"), (v4, v6), strict=True):
        elements = json.loads(text)["nftables"][1]["set"]["elem"]
        got = [network for element in elements for network in nft_networks(element)]
        wanted = [ipaddress.ip_network(p) for p in want]
        # Same address space: every wanted network is covered, nothing else is.
        assert list(ipaddress.collapse_addresses(got)) == list(ipaddress.collapse_addresses(wanted))


@needs_tools
def test_apply_twice_is_idempotent_and_swaps_contents(tmp_path: Path) -> None:
    """Really apply in a namespace: a second run and an update leave one chain, one jump."""
    from conftest import SAMPLE_NEW, SAMPLE_OLD

    outs = []
    for sample in (SAMPLE_OLD, SAMPLE_NEW):
        st = parse_service_tags(sample.read_bytes(), source=str(sample))
        out = tmp_path / sample.stem
        write_rendered(render_formats(st, ["AzureCloud.westeurope"], ["iptables"]), out)
        outs.append(out)
    script = (
        f"{outs[0]}/iptables/apply.sh\n{outs[0]}/iptables/apply.sh\n"
        f"{outs[1]}/iptables/apply.sh\n"
        "iptables -S OUTPUT; iptables -S TAGSYNC-OUT; ip6tables -S OUTPUT\n"
        "echo ====; ipset list tagsync4; ipset list -n\n"
    )
    result = in_namespace(script, tmp_path)
    assert result.returncode == 0, result.stderr
    rules, sets = result.stdout.split("====\n")
    assert rules.count("-A OUTPUT -j TAGSYNC-OUT") == 2  # one jump each for v4 and v6
    assert rules.count("--match-set tagsync4") == 1
    v4, _ = expected(SAMPLE_NEW, "AzureCloud.westeurope")
    assert members(sets.split("\ntagsync4\n")[0]) == v4
    assert "tagsync4-tmp" not in sets  # the temporary set was destroyed after the swap


def test_ipset_sizing_grows_with_the_count() -> None:
    assert ipset_sizing(100) == (1024, 65536)
    hashsize, maxelem = ipset_sizing(40000)
    assert maxelem >= 80000 and maxelem & (maxelem - 1) == 0
    assert hashsize & (hashsize - 1) == 0 and hashsize >= 40000 // 4


# --- Names and modes that cannot hurt the admin's ruleset ------------------------------------
@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"iptables": {"chain": "INPUT"}}, "render.iptables.chain: 'INPUT' is a built-in chain"),
        ({"iptables": {"chain": "forward"}}, "render.iptables.chain: 'forward' is a built-in"),
        ({"iptables": {"chain": "REJECT"}}, "render.iptables.chain: 'REJECT' is a built-in"),
        ({"iptables": {"hook": "input"}}, "render.iptables.hook must be one of output, forward"),
        ({"iptables": {"position": 0}}, "render.iptables.position must be a whole number"),
        ({"iptables": {"sources": ["10.0.0.300"]}}, "render.iptables.sources"),
        ({"nftables": {"chain": "output"}}, "render.nftables.chain: 'output' is a base chain"),
        ({"nftables": {"mode": "replace"}}, "render.nftables.mode must be one of hook, standalone"),
        (
            {"nftables": {"chain": "mine", "base_chain": "mine"}},
            "render.nftables.chain: tagsync's chain and the base chain must differ",
        ),
        (
            {"mdi-sensor": {**MDI_CONFIG["mdi-sensor"], "chain_out": "OUTPUT"}},
            "render.mdi-sensor.chain_out: 'OUTPUT' is a built-in chain",
        ),
        (
            {"mdi-sensor": {**MDI_CONFIG["mdi-sensor"], "nft_chain": "forward"}},
            "render.mdi-sensor.nft_chain: 'forward' is a base chain",
        ),
    ],
)
def test_names_and_modes_that_would_touch_the_admins_ruleset_are_refused(
    section: dict[str, object], message: str
) -> None:
    from tagsync.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        render_settings(section)
    assert message in str(caught.value)


def test_a_built_in_chain_is_a_one_line_usage_error(tmp_path: Path) -> None:
    from conftest import SAMPLE_NEW
    from typer.testing import CliRunner

    from tagsync.cli import app

    config = tmp_path / "tagsync.yaml"
    config.write_text("render:\n  iptables: {chain: OUTPUT}\n")
    result = CliRunner().invoke(
        app, ["render", "iptables", "-f", str(SAMPLE_NEW), "--config", str(config), "--out", "-"]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "render.iptables.chain: 'OUTPUT' is a built-in chain" in result.output


@needs_tools
@pytest.mark.slow
def test_every_mode_loads_in_the_real_tools(tmp_path: Path) -> None:
    """Forward mode with sources, standalone nft, a second position: nft -c and
    iptables-restore --test accept every variant; the jump lands at the configured rule."""
    from conftest import SAMPLE_NEW

    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    variants = {
        "forward": {
            "iptables": {"hook": "forward", "sources": ["10.0.0.1-10.0.0.6", "fd00::/64"]},
            "nftables": {"hook": "forward", "sources": ["10.0.0.0/24", "10.0.0.0/16"]},
        },
        "standalone": {"nftables": {"mode": "standalone"}, "iptables": {"position": 2}},
        "v4only": {"iptables": {"sources": ["10.0.0.1"]}, "nftables": {"sources": ["10.0.0.1"]}},
    }
    script = []
    for name, config in variants.items():
        settings = render_settings(config)
        files = render_formats(
            st, ["AzureCloud.westeurope"], ["iptables", "nftables"], settings=settings
        )
        write_rendered(files, tmp_path / name)
        script.append(f"nft -c -f {name}/nftables/tagsync.nft")
        script.append(f"ipset restore -f {name}/iptables/ipset.restore")
        script.append(f"iptables-restore --test --noflush < {name}/iptables/iptables.rules")
        script.append(f"ip6tables-restore --test --noflush < {name}/iptables/ip6tables.rules")
    v4only = (tmp_path / "v4only" / "iptables" / "ip6tables.rules").read_text()
    assert "ACCEPT" not in v4only and "no IPv6 address: no allow rule" in v4only
    # Position 2: under an admin rule already in OUTPUT, the jump becomes rule 2.
    script += [
        "iptables -A OUTPUT -o lo -j ACCEPT; ip6tables -A OUTPUT -o lo -j ACCEPT",
        "sh standalone/iptables/apply.sh",
        "iptables -S OUTPUT; ip6tables -S OUTPUT",
    ]
    result = in_namespace("\n".join(script), tmp_path)
    assert result.returncode == 0, result.stderr
    rules = [line for line in result.stdout.splitlines() if line.startswith("-A OUTPUT")]
    assert rules == ["-A OUTPUT -o lo -j ACCEPT", "-A OUTPUT -j TAGSYNC-OUT"] * 2


@needs_tools
def test_apply_moves_an_appended_jump_above_the_final_reject(tmp_path: Path) -> None:
    """The previous release appended the jump after the admin's REJECT: apply.sh puts it at the
    configured position (inserting before deleting) and leaves exactly one."""
    from conftest import SAMPLE_NEW

    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    write_rendered(render_formats(st, ["AzureCloud.westeurope"], ["iptables"]), tmp_path)
    script = (
        "for t in iptables ip6tables; do\n"
        "  $t -A OUTPUT -o lo -j ACCEPT; $t -A OUTPUT -j REJECT\n"
        "  $t -N TAGSYNC-OUT; $t -A OUTPUT -j TAGSYNC-OUT; $t -A OUTPUT -j TAGSYNC-OUT\n"
        "done\n"
        "sh iptables/apply.sh; sh iptables/apply.sh\n"
        "iptables -S OUTPUT; ip6tables -S OUTPUT\n"
    )
    result = in_namespace(script, tmp_path)
    assert result.returncode == 0, result.stderr
    rules = [line for line in result.stdout.splitlines() if line.startswith("-A OUTPUT")]
    assert [r.split(" --reject-with")[0] for r in rules] == [
        "-A OUTPUT -j TAGSYNC-OUT",
        "-A OUTPUT -o lo -j ACCEPT",
        "-A OUTPUT -j REJECT",
    ] * 2
