"""Benchmark `tagsync lookup`: 100,000 log addresses through the index vs two baselines.

Usage: python bench/bench_lookup.py [SERVICE_TAGS_JSON] [--count N] [--repeat R]

The addresses are generated deterministically (random.Random(seed)): 80 % drawn from real
prefixes of the file (IPv4 and IPv6), 20 % random IPv4 misses, like a busy firewall log.
Candidates:
  * index      tagsync.lookup.LookupIndex (sorted intervals + bisect, memoised answers)
  * naive      scan every prefix of every tag per address (integer compares, no objects)
  * ipset      one netaddr.IPSet per tag, `address in ipset` for every tag per address
The baselines are far too slow for 100,000 addresses, so they run on a sample of the same
addresses and their per-address time is extrapolated to the full count (said so in the output).
Times are medians of R runs; the end-to-end CLI run includes interpreter start-up and reading
and validating the 4 MB file.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tagsync.lookup import LookupIndex, parse_query
from tagsync.model import ServiceTags, parse_service_tags

SEED = 20251006


def make_addresses(st: ServiceTags, count: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    prefixes = sorted({p for tag in st.tags.values() for p in tag.prefixes})
    addresses = []
    for _ in range(count):
        if rng.random() < 0.8:
            network = ipaddress.ip_network(rng.choice(prefixes))
            offset = rng.randrange(network.num_addresses)
            addresses.append(str(network.network_address + offset))
        else:
            addresses.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
    return addresses


def median_time(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_scan(st: ServiceTags, sample: list[str]) -> Callable[[], object]:
    table = []
    for tag in st.tags.values():
        for prefix in tag.prefixes:
            network = ipaddress.ip_network(prefix)
            table.append(
                (
                    network.version,
                    int(network.network_address),
                    int(network.broadcast_address),
                    tag.name,
                )
            )

    def run() -> object:
        answers = []
        for text in sample:
            address = ipaddress.ip_address(text)
            version, value = address.version, int(address)
            answers.append([n for v, lo, hi, n in table if v == version and lo <= value <= hi])
        return answers

    return run


def ipset_scan(st: ServiceTags, sample: list[str]) -> tuple[float, Callable[[], object]]:
    import netaddr

    start = time.perf_counter()
    sets = [(tag.name, netaddr.IPSet(tag.prefixes)) for tag in st.tags.values()]
    build = time.perf_counter() - start

    def run() -> object:
        answers = []
        for text in sample:
            address = netaddr.IPAddress(text)
            answers.append([name for name, ipset in sets if address in ipset])
        return answers

    return build, run


def index_queries(index: LookupIndex, addresses: list[str]) -> object:
    return [index.find(parse_query(text)) for text in addresses]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=None, help="default: tests/data")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="addresses for the baselines")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import FULL, default_data

    args.file = args.file or default_data() / FULL
    data = args.file.read_bytes()
    st = parse_service_tags(data, source=str(args.file))
    prefix_count = sum(len(tag.prefixes) for tag in st.tags.values())
    addresses = make_addresses(st, args.count)
    sample = addresses[: args.sample]
    print(
        f"{args.file.name}: changeNumber {st.change_number}, {len(st.tags)} tags, "
        f"{prefix_count} prefixes; {len(addresses)} addresses (seed {SEED}), "
        f"median of {args.repeat} runs"
    )

    build = median_time(lambda: LookupIndex(st.tags.values()), args.repeat)
    # A fresh index per run, so memoised answers do not flatter the later runs.
    query_times = []
    for _ in range(args.repeat):
        index = LookupIndex(st.tags.values())
        start = time.perf_counter()
        index_queries(index, addresses)
        query_times.append(time.perf_counter() - start)
    query = statistics.median(query_times)
    print(
        f"index   build {build * 1000:8.1f} ms   {len(addresses)} lookups "
        f"{query * 1000:8.1f} ms   ({query / len(addresses) * 1e6:.2f} us/address)"
    )

    stdin = "".join(f"{a}\n" for a in addresses).encode()
    cli = [sys.executable, "-m", "tagsync", "lookup", "--file", str(args.file), "-"]
    cli_time = median_time(
        lambda: subprocess.run(cli, input=stdin, stdout=subprocess.DEVNULL, check=True),
        max(1, args.repeat // 2 + 1),
    )
    print(
        f"cli     `tagsync lookup --file FILE -` with {len(addresses)} lines on stdin, "
        f"end to end: {cli_time * 1000:8.1f} ms"
    )

    gc.collect()
    naive = median_time(naive_scan(st, sample), max(1, args.repeat // 2))
    per_address = naive / len(sample)
    print(
        f"naive   scan of {prefix_count} prefixes per address: {per_address * 1e3:.2f} ms/address "
        f"on {len(sample)} addresses, extrapolated to {len(addresses)}: "
        f"{per_address * len(addresses):8.1f} s"
    )

    ipset_build, ipset_run = ipset_scan(st, sample)
    ipset = median_time(ipset_run, max(1, args.repeat // 2))
    per_address = ipset / len(sample)
    print(
        f"ipset   build {ipset_build * 1000:8.1f} ms (one IPSet per tag); "
        f"{per_address * 1e3:.2f} ms/address on {len(sample)} addresses, "
        f"extrapolated to {len(addresses)}: {per_address * len(addresses):8.1f} s"
    )


if __name__ == "__main__":
    main()


def suite_case(data_dir: Path, repeat: int) -> list[Any]:
    """Rows for bench/run.py: 100,000 addresses through the index vs the naive scan."""
    from run import FULL, Result

    st = parse_service_tags((data_dir / FULL).read_bytes())
    addresses = make_addresses(st, 100_000)
    sample = addresses[:200]

    def build_and_query() -> object:
        return index_queries(LookupIndex(st.tags.values()), addresses)

    ours = median_time(build_and_query, max(3, repeat // 2))
    naive = median_time(naive_scan(st, sample), 1) / len(sample) * len(addresses)
    stdin = "".join(f"{a}\n" for a in addresses).encode()
    cli = [sys.executable, "-m", "tagsync", "lookup", "--file", str(data_dir / FULL), "-"]
    end_to_end = median_time(
        lambda: subprocess.run(cli, input=stdin, stdout=subprocess.DEVNULL, check=True), 3
    )
    return [
        Result(
            "6 lookup 100,000 addresses (build + query)",
            ours,
            naive,
            None,
            f"naive scan extrapolated from {len(sample)}; CLI end to end {end_to_end:.2f} s",
        )
    ]
