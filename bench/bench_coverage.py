"""Benchmark case 7: the coverage-aware diff of every tag of two full files vs plain set difference.

The baseline is the least a text diff can do: per tag, ``set(new) - set(old)`` and the reverse
(sorted), over prefix tuples already in memory. tagsync's diff does that too, then compares only
the tags whose texts changed by the addresses they cover (every distinct prefix of those tags
parsed once into integer ranges; per tag only the changed texts are merged and checked against
the prefixes that overlap them). Target: at most 3x the baseline on a weekly pair.
Both sides start from already parsed and validated files, so only the diff is timed.

    python bench/bench_coverage.py [--data DIR] [--repeat 7]    (or as part of bench/run.py)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

HERE = Path(__file__).resolve().parent
# The pair of case 3 (one week, the target), and the biggest jump between the weekly files
# (four weeks and two releases apart, 370 -> 372: 310 tags with text changes instead of 54).
PAIRS = (
    ("ServiceTags_Public_20250901.json", "ServiceTags_Public_20250908.json", 3.0),
    ("ServiceTags_Public_20250908.json", "ServiceTags_Public_20251006.json", None),
)


def set_difference(
    old: dict[str, tuple[str, ...]], new: dict[str, tuple[str, ...]]
) -> dict[str, tuple[list[str], list[str]]]:
    """Per tag with a text change: (added, removed) prefix texts, sorted."""
    changes = {}
    for name in old.keys() | new.keys():
        before, after = set(old.get(name, ())), set(new.get(name, ()))
        if before != after:
            changes[name] = (sorted(after - before), sorted(before - after))
    return changes


def pair_rows(
    data_dir: Path, old_name: str, new_name: str, target: float | None, repeat: int
) -> list[Result]:
    """The rows for one pair of files: the whole diff, and its interval work alone."""
    from run import Result, median_time

    from tagsync.coverage import diff_coverages
    from tagsync.diff import diff_service_tags
    from tagsync.model import parse_service_tags

    old, new = (
        parse_service_tags((data_dir / name).read_bytes(), source=name)
        for name in (old_name, new_name)
    )
    old.validate()
    new.validate()
    old_prefixes = {name: tag.prefixes for name, tag in old.tags.items()}
    new_prefixes = {name: tag.prefixes for name, tag in new.tags.items()}
    changed = list(set_difference(old_prefixes, new_prefixes))

    def baseline() -> object:
        return set_difference(old_prefixes, new_prefixes)

    def ours() -> object:
        return diff_service_tags(old, new)

    def intervals_only() -> object:
        return diff_coverages(
            {n: (old_prefixes.get(n, ()), new_prefixes.get(n, ())) for n in changed}
        )

    base = median_time(baseline, repeat)
    result = diff_service_tags(old, new)
    pair = f"{old_name[19:27]}->{new_name[19:27]}"
    note = (
        f"{len(new.tags)} tags, {len(changed)} with text changes: {result.gained_count} CIDRs "
        f"gained, {result.lost_count} lost, {len(result.reaggregated)} tags re-aggregated"
    )
    return [
        Result(f"7 coverage diff all tags {pair}", median_time(ours, repeat), base, target, note),
        Result(
            f"7   its interval work alone {pair}",
            median_time(intervals_only, repeat),
            base,
            None,
            "diff_coverages of the tags whose texts changed",
        ),
    ]


def suite_case(data_dir: Path, repeat: int) -> list[Result]:
    """Case 7 rows for bench/run.py (also used by this script's own main)."""
    return [
        row for old, new, target in PAIRS for row in pair_rows(data_dir, old, new, target, repeat)
    ]


def main() -> None:
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="default: tests/data")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from run import default_data

    args.data = args.data or default_data()
    for row in suite_case(args.data, args.repeat):
        print(row.line(), flush=True)


if __name__ == "__main__":
    main()
