"""Benchmark case 8: history at scale, 150 kept versions built from the real Public files.

The real files in the data dir (oldest first, skipping one whose values equal the file before
it: 366 -> 367 only bumped the top-level changeNumber) are repeated in order until there are
150. Each repeat is made a distinct version by rewriting its top-level changeNumber (1000 + i,
a byte-level edit of the first ``"changeNumber": N``; the rest of the file is unchanged) and
naming it ``ServiceTags_Public_<date>.json`` for the Monday 2021-01-04 + i weeks. Consecutive
versions therefore differ like the real files do (from one week to two years of changes).

Rows (absolute targets from issue 11; ratios against same-run baselines, like the other cases):

- ``history import`` of the 150 files into an empty state dir with ``keep: 150``: target
  <= 60 s; baseline: reading and ``json.loads`` of the same 150 files (the least any import
  does). The state dir must stay <= 10 MB; the note compares it with one gzip copy per
  version (how history would grow storing whole files).
- ``history TAG`` and ``status`` with the 150 versions kept (the newest also accepted as the
  snapshot): target <= 0.5 s each, in process; baseline: ``json.loads`` of one full file. The
  whole-process time (Python and Typer start-up included) is shown in the note.

    python bench/bench_history.py [--data DIR]    (or as part of bench/run.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "servicetags" / "public"
VERSIONS = 150
TAG = "AzureAdvancedThreatProtection"
FIRST_MONDAY = dt.date(2021, 1, 4)
_CHANGE_NUMBER = re.compile(rb'"changeNumber": *\d+')


def distinct_files(data_dir: Path) -> list[Path]:
    """The real files oldest first, without one whose values equal the previous file's."""
    files = sorted(data_dir.glob("ServiceTags_Public_*.json"))
    kept: list[Path] = []
    previous = None
    for path in files:
        values = json.loads(path.read_bytes())["values"]
        if values != previous:
            kept.append(path)
        previous = values
    return kept


def make_versions(data_dir: Path, out: Path, count: int = VERSIONS) -> list[Path]:
    """``count`` distinct versions (see the module docstring) written into ``out``."""
    sources = distinct_files(data_dir)
    made = []
    for index in range(count):
        data = sources[index % len(sources)].read_bytes()
        data = _CHANGE_NUMBER.sub(b'"changeNumber": %d' % (1000 + index), data, count=1)
        day = FIRST_MONDAY + dt.timedelta(weeks=index)
        path = out / f"ServiceTags_Public_{day:%Y%m%d}.json"
        path.write_bytes(data)
        made.append(path)
    return made


def whole_copy_bytes(data_dir: Path, count: int = VERSIONS) -> int:
    """What one gzip copy per version would take (each distinct file compressed once)."""
    sources = distinct_files(data_dir)
    sizes = [len(gzip.compress(path.read_bytes(), compresslevel=6)) for path in sources]
    return sum(sizes[index % len(sizes)] for index in range(count))


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def process_seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tagsync", *argv], check=True, capture_output=True, timeout=120
    )
    return time.perf_counter() - start


def verdict(seconds: float, target: float) -> str:
    return f"target <= {target:g} s: {'ok' if seconds <= target else 'MISSED'}"


def suite_case(data_dir: Path, repeat: int) -> list[Result]:
    """Case 8 rows for bench/run.py."""
    from run import Result, median_time

    from tagsync.clouds import get_cloud
    from tagsync.config import load_config
    from tagsync.history import history_of, record_accepted, tag_history
    from tagsync.history.importing import import_files
    from tagsync.model import parse_service_tags
    from tagsync.status import cloud_status
    from tagsync.store import Store

    rows: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tagsync-bench-history-") as scratch:
        root = Path(scratch)
        (root / "files").mkdir()
        files = make_versions(data_dir, root / "files")
        state = root / "state"
        store = Store(state, get_cloud("public"))
        config_path = root / "config.yaml"
        config_path.write_text(f"state_dir: {state}\nhistory:\n  keep: {VERSIONS}\n")

        start = time.perf_counter()
        with store.locked():
            outcome = import_files(store, files, keep=VERSIONS, max_bytes=64 << 20)
        ours = time.perf_counter() - start
        assert not outcome.failed and outcome.kept == VERSIONS, outcome
        start = time.perf_counter()
        for path in files:
            json.loads(path.read_bytes())
        baseline = time.perf_counter() - start
        size = tree_bytes(state)
        whole = whole_copy_bytes(data_dir)
        note = (
            f"{verdict(ours, 60)}; state dir {size / 1e6:.1f} MB "
            f"(target <= 10 MB: {'ok' if size <= 10e6 else 'MISSED'}; "
            f"a gzip copy per version: {whole / 1e6:.0f} MB)"
        )
        rows.append(Result("8 history import 150 versions", ours, baseline, None, note))

        # The newest version becomes the accepted snapshot too (as `update` would make it).
        newest = files[-1]
        data = newest.read_bytes()
        parsed = parse_service_tags(data, source=str(newest))
        with store.locked():
            meta = store.save(data, parsed, str(newest))
            record_accepted(store, parsed, meta, keep=VERSIONS)
        config = load_config(config_path, required=True)
        full = data_dir / "ServiceTags_Public_20251006.json"

        def snapshot_json() -> object:
            return json.loads(full.read_bytes())

        base = median_time(snapshot_json, repeat)
        history_time = median_time(lambda: tag_history(history_of(store), TAG), repeat)
        process = process_seconds(["history", TAG, "--config", str(config_path)])
        note = f"{verdict(history_time, 0.5)}; whole process {process:.2f} s"
        rows.append(Result(f"8 history {TAG[:16]}.. 150 kept", history_time, base, None, note))
        status_time = median_time(lambda: cloud_status(store, config, [TAG]), repeat)
        process = process_seconds(["status", "--config", str(config_path)])
        note = f"{verdict(status_time, 0.5)}; whole process {process:.2f} s"
        rows.append(Result("8 status 150 kept", status_time, base, None, note))
    return rows


def main() -> None:
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for row in suite_case(args.data, args.repeat):
        print(row.line(), flush=True)


if __name__ == "__main__":
    main()
