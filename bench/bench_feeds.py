"""Benchmark case 6: `tagsync feeds --all-tags` over the full real Public file (3,000+ tags; per
tag ipv4.txt, ipv6.txt, all.txt, their .sha256 and checkpoint.json, plus index.json/index.html).

Targets (issue 14): a full render from a cold start (a fresh process, empty --out) in <= 1 s,
an unchanged re-render (fresh process, same input) in <= 0.3 s. The baseline is a plain Python
loop writing the same bytes (os.makedirs + open/write per file, no fsync) into an empty
directory: the ratio says what the aggregation, hashing, index, page, atomic swap and the
sync before it cost on top of merely writing the files. In-process rows leave out the
interpreter start and imports (``python -m tagsync --help`` is shown for that floor).

    python bench/bench_feeds.py [--data DIR] [--repeat 5] [--scratch DIR]   (or in bench/run.py)

``--scratch /dev/shm`` writes the trees to a tmpfs: the same run without the disk, which tells
the CPU's share from the filesystem's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

HERE = Path(__file__).resolve().parent
FULL = "ServiceTags_Public_20251006.json"
COLD_TARGET, UNCHANGED_TARGET = 1.0, 0.3


def feeds_argv(full: Path, out: Path, state: Path) -> list[str]:
    return ["feeds", "--all-tags", "--file", str(full), "--out", str(out),
            "--state-dir", str(state)]  # fmt: skip


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_of(function: Callable[[Path], object], scratch: Path, repeat: int) -> float:
    """Median over ``repeat`` runs, each into a fresh directory. The directories are removed
    only after the last run: on a filesystem mounted with ``discard`` a large removal slows
    the writes that follow it, which would charge one run's clean-up to the next."""
    times = []
    targets = [scratch / f"run{function.__name__}{run}" for run in range(repeat)]
    for target in targets:
        times.append(timed(lambda target=target: function(target)))  # type: ignore[misc]
    for target in targets:
        shutil.rmtree(target, ignore_errors=True)
    return statistics.median(times)


def tree_files(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()}


def plain_loop(files: dict[str, bytes], target: Path) -> None:
    for relative, data in files.items():
        path = os.path.join(target, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def status(seconds: float, target: float) -> str:
    return f"{seconds:.2f} s vs target <= {target:g} s: {'ok' if seconds <= target else 'MISSED'}"


def suite_case(data_dir: Path, repeat: int, scratch_root: Path | None = None) -> list[Result]:
    """Case 6 rows for bench/run.py (also used by this script's own main); the trees are
    written under ``scratch_root`` (default: the temp directory)."""
    from run import Result, run_cli_in_process

    full = data_dir / FULL
    python = sys.executable
    repeat = max(3, repeat)
    with tempfile.TemporaryDirectory(prefix="bench-feeds-", dir=scratch_root) as scratch_name:
        scratch = Path(scratch_name)
        state = scratch / "state"

        def cold(out: Path) -> None:
            argv = [python, "-m", "tagsync", *feeds_argv(full, out, state)]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def in_process(out: Path) -> None:
            with contextlib.redirect_stderr(io.StringIO()):  # the one-line notes
                run_cli_in_process(feeds_argv(full, out, state))

        cold(scratch / "warm")  # page cache, .pyc files
        reference = scratch / "reference"
        cold(reference)
        files = tree_files(reference / "public")
        count, size = len(files), sum(map(len, files.values())) / 1e6

        cold_time = median_of(cold, scratch, repeat)
        in_process_time = median_of(in_process, scratch, repeat)

        def plain(target: Path) -> None:
            plain_loop(files, target)

        baseline = median_of(plain, scratch, repeat)
        unchanged_cold = statistics.median(timed(lambda: cold(reference)) for _ in range(repeat))
        unchanged_in = statistics.median(
            timed(lambda: in_process(reference)) for _ in range(repeat)
        )
        help_argv = [python, "-m", "tagsync", "--help"]
        floor = statistics.median(
            timed(lambda: subprocess.run(help_argv, check=True, stdout=subprocess.DEVNULL))
            for _ in range(repeat)
        )
    what = f"{count} files, {size:.1f} MB"
    return [
        Result("6 feeds --all-tags cold vs plain write loop", cold_time, baseline, None,
               f"{what}; {status(cold_time, COLD_TARGET)}"),
        Result("6 feeds --all-tags in-process vs plain loop", in_process_time, baseline, None,
               "no interpreter start or imports"),
        Result("6 feeds unchanged re-render cold", unchanged_cold, floor, None,
               f"baseline: tagsync --help; {status(unchanged_cold, UNCHANGED_TARGET)}"),
        Result("6 feeds unchanged re-render in-process", unchanged_in, floor, None,
               "baseline: tagsync --help (a process start)"),
    ]  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="default: tests/data")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--scratch", type=Path, default=None, help="write the trees here (e.g. a tmpfs)"
    )
    args = parser.parse_args()
    from run import default_data

    args.data = args.data or default_data()
    for result in suite_case(args.data, args.repeat, args.scratch):
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
