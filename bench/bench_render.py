"""Benchmark: render every format for the largest tag of the full real file.

Prints the median render time next to a same-run baseline that writes the same prefixes
with plain ``str.join`` once per output file (the least any renderer could do).

    python bench/bench_render.py [--file PATH] [--tag AzureCloud] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tagsync.model import parse_service_tags
from tagsync.render import FORMATS, render_formats, render_options

DEFAULT_FILE = (
    Path(__file__).resolve().parent.parent.parent
    / "shared/data/servicetags/public/ServiceTags_Public_20251006.json"
)
SITE = {
    "mdi_sensor": {
        "dns_servers": ["10.0.0.53", "10.0.1.53"],
        "radius_servers": ["10.0.5.10"],
        "device_subnets": ["10.0.0.0/16", "10.1.0.0/16"],
        "sensors": ["10.0.0.20"],
    }
}


def median_seconds(function: Callable[[], object], runs: int) -> float:
    function()  # warm-up: template compilation, imports, caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--tag", default="AzureCloud")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    st = parse_service_tags(args.file.read_bytes(), source=str(args.file))
    options = render_options(SITE)
    prefixes = list(st.tags[args.tag].prefixes)
    files = render_formats(st, [args.tag], FORMATS, options=options)

    def render() -> object:
        return render_formats(st, [args.tag], FORMATS, options=options)

    def baseline() -> object:
        return ["".join(f"{p}\n" for p in prefixes) for _ in files]

    rendered = median_seconds(render, args.runs)
    joined = median_seconds(baseline, args.runs)
    size = sum(len(text) for text in files.values())
    print(f"tag {args.tag}: {len(prefixes)} prefixes, {len(files)} files, {size / 1e6:.1f} MB")
    print(f"render all formats (median of {args.runs}): {rendered * 1000:8.1f} ms")
    print(f"baseline str.join x{len(files)}:          {joined * 1000:8.1f} ms")
    print(f"ratio: {rendered / joined:.1f}x")


if __name__ == "__main__":
    main()
