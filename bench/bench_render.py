"""Benchmark case 4: render every format for the largest tag (AzureCloud) of the full real file.

Two comparisons in the same run: the least any renderer could do (``"\\n".join`` of the
prefixes once per output file), and Aerleon (PyPI ``aerleon``, the ``bench`` extra) generating
its iptables, nftables, paloalto and windows_advfirewall targets for the same prefixes through
its Python API; target: tagsync at least 5x faster. The outputs are also loaded by the real
tools once (not timed) in a private network namespace, and the note says whether they loaded.

    python bench/bench_render.py [--data DIR] [--repeat 7]      (or as part of bench/run.py)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

HERE = Path(__file__).resolve().parent
FULL = "ServiceTags_Public_20251006.json"
TAG = "AzureCloud"
# Site values for the formats that need them (mdi-sensor, proxy): render really everything.
SITE = {
    "mdi-sensor": {
        "dns_servers": ["10.0.0.53", "10.0.1.53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16", "10.1.0.0/16"],
        "sensors": ["10.0.0.20"],
    },
    "proxy": {"host": "proxy.example.net", "port": 8080},
}
AERLEON_TARGETS = {
    "iptables": "OUTPUT ACCEPT",
    "nftables": "mixed OUTPUT",
    "paloalto": "from-zone trust to-zone untrust",
    "windows_advfirewall": "out",
}


def aerleon_generate(prefixes: list[str]) -> dict[str, str]:
    """Aerleon's four targets for one allow-HTTPS term to the prefixes (definitions included)."""
    from aerleon import api
    from aerleon.lib import naming

    definitions = naming.Naming()
    networks = {"AZURE": {"values": [{"address": p} for p in prefixes]}}
    definitions.ParseDefinitionsObject({"networks": networks}, "")
    definitions.ParseDefinitionsObject(
        {"services": {"HTTPS": [{"port": 443, "protocol": "tcp"}]}}, ""
    )
    term = {
        "name": "allow-azure-https",
        "destination-address": "AZURE",
        "destination-port": "HTTPS",
        "protocol": "tcp",
        "action": "accept",
    }
    policies = [
        {"filename": target, "filters": [{"header": {"targets": {target: how}}, "terms": [term]}]}
        for target, how in AERLEON_TARGETS.items()
    ]
    return dict(api.Generate(policies, definitions))


def _namespace_check(script: str, cwd: Path) -> bool:
    result = subprocess.run(
        ["unshare", "-n", "sh", "-ec", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode == 0


def load_notes(ours: dict[str, str], theirs: dict[str, str] | None) -> tuple[str, str]:
    """Whether each output loads as is, by the real tools (iptables/ipset/nft, unshare -n)."""
    if not all(shutil.which(t) for t in ("unshare", "ipset", "iptables-restore", "nft")):
        return "load not checked (iptables/ipset/nft/unshare missing)", ""
    from tagsync.render import write_rendered

    def verdict(ok: bool) -> str:
        return "ok" if ok else "FAILED"

    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        out = Path(scratch)
        write_rendered(ours, out)
        checks = {
            "ipset": "ipset restore -f iptables/ipset.restore",
            "iptables": "ipset restore -f iptables/ipset.restore\n"
            "iptables-restore --test --noflush < iptables/iptables.rules",
            "ip6tables": "ipset restore -f iptables/ipset.restore\n"
            "ip6tables-restore --test --noflush < iptables/ip6tables.rules",
            "nft": "nft -c -f nftables/tagsync.nft",
            "mdi nft": "nft -c -f mdi-sensor/nftables.nft",
        }
        ours_note = "tagsync loads: " + ", ".join(
            f"{name} {verdict(_namespace_check(script, out))}" for name, script in checks.items()
        )
        theirs_note = ""
        if theirs is not None:
            # Aerleon writes bare rules; iptables-restore needs the table and COMMIT around them.
            (out / "aerleon.rules").write_text(f"*filter\n{theirs['iptables']}\nCOMMIT\n")
            (out / "aerleon.nft").write_text(theirs["nftables.nft"])
            ipt = _namespace_check("iptables-restore --test < aerleon.rules", out)
            nft = _namespace_check("nft -c -f aerleon.nft", out)
            theirs_note = (
                f"aerleon loads: iptables (wrapped in *filter/COMMIT, IPv4 only) {verdict(ipt)}, "
                f"nft {verdict(nft)}"
            )
    return ours_note, theirs_note


def suite_case(data_dir: Path, repeat: int) -> list[Result]:
    """Case 4 rows for bench/run.py (also used by this script's own main)."""
    from run import Result, median_time

    from tagsync.formats.registry import BUILTIN
    from tagsync.model import parse_service_tags
    from tagsync.render import render_formats, render_settings

    FORMATS = tuple(BUILTIN)

    path = data_dir / FULL
    service_tags = parse_service_tags(path.read_bytes(), source=str(path))
    settings = render_settings(SITE)
    prefixes = list(service_tags.tags[TAG].prefixes)

    def ours() -> dict[str, str]:
        return render_formats(service_tags, [TAG], FORMATS, settings=settings)

    files = ours()

    def joined() -> list[str]:
        return ["\n".join(prefixes) for _ in files]

    ours_time = median_time(ours, repeat)
    size = sum(map(len, files.values())) / 1e6
    rows = [
        Result(
            f"4 render all formats {TAG} vs str.join",
            ours_time,
            median_time(joined, repeat),
            None,
            f"{len(prefixes)} prefixes, {len(FORMATS)} formats, {len(files)} files, {size:.1f} MB",
        )
    ]
    try:
        import aerleon  # noqa: F401
    except ImportError:
        ours_note, _ = load_notes(files, None)
        print(
            f"{'4 render vs Aerleon (4 targets)':<44} skipped: aerleon is not installed "
            "(pip install -e '.[bench]'); " + ours_note,
            flush=True,
        )
        return rows
    theirs = aerleon_generate(prefixes)
    theirs_time = median_time(lambda: aerleon_generate(prefixes), max(3, min(repeat, 5)))
    ours_note, theirs_note = load_notes(files, theirs)
    rows.append(
        Result(
            "4 render vs Aerleon (4 targets)",
            ours_time,
            theirs_time,
            0.2,
            f"{ours_note}; {theirs_note}",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="default: tests/data")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from run import default_data

    args.data = args.data or default_data()
    for result in suite_case(args.data, args.repeat):
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
