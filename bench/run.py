"""tagsync benchmark suite: each case against the least plain-Python code doing the same job.

Run from the repository root:  python bench/run.py [--repeat N] [--data DIR] [--only CASE...]

Uses the full real files shipped in tests/data (no network). Prints one line per case: tagsync's
median time, the baseline's median in the same run, their ratio and the target. Timings are
medians of several repetitions after a warm-up; subprocess cases (CLI cold start) time whole
processes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FULL = "ServiceTags_Public_20251006.json"  # newest full file (LF era)
PAIR = ("ServiceTags_Public_20250901.json", "ServiceTags_Public_20250908.json")
LARGEST_TAG = "AzureCloud"
DEFAULT_TAG = "AzureAdvancedThreatProtection"


@dataclass
class Result:
    case: str
    ours: float
    baseline: float
    target: float | None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline

    def line(self) -> str:
        target = f"<= {self.target:g}x" if self.target else "-"
        status = "" if not self.target else ("ok" if self.ratio <= self.target else "MISSED")
        return (
            f"{self.case:<44} {self.ours * 1000:9.1f} ms {self.baseline * 1000:9.1f} ms "
            f"{self.ratio:7.2f}x  {target:<8} {status:<6} {self.note}"
        )


def median_time(function: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_cli_in_process(args: list[str]) -> str:
    from tagsync.cli import app

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        app(args, standalone_mode=True)
    return out.getvalue()


# --- case 1: load + validate ---------------------------------------------------------------------
def case_load(data_dir: Path, repeat: int) -> list[Result]:
    from tagsync.model import parse_service_tags

    raw = (data_dir / FULL).read_bytes()
    ours = median_time(lambda: parse_service_tags(raw, expected_cloud="Public"), repeat)
    deferred = median_time(
        lambda: parse_service_tags(raw, expected_cloud="Public", check_all_prefixes=False), repeat
    )
    base = median_time(lambda: json.loads(raw), repeat)
    return [
        Result("1 load+validate full file (every prefix)", ours, base, 3.0),
        Result(
            "1 load, prefixes checked on first read",
            deferred,
            base,
            None,
            "what `prefixes`/`render` pay before reading their tags",
        ),
    ]


# --- case 2: extract one tag --------------------------------------------------------------------
def case_extract(data_dir: Path, repeat: int) -> list[Result]:
    from tagsync.model import parse_service_tags
    from tagsync.prefixes import aggregate, sort_prefixes
    from tagsync.tagnames import resolve_tags

    raw = (data_dir / FULL).read_bytes()
    model = parse_service_tags(raw)
    document = json.loads(raw)
    by_name = {v["name"]: v for v in document["values"]}
    results = []
    for tag in (DEFAULT_TAG, LARGEST_TAG):

        def ours(tag: str = tag) -> list[str]:
            return sort_prefixes(resolve_tags(model, [tag])[0].prefixes)

        def ours_aggregated(tag: str = tag) -> list[str]:
            return aggregate(resolve_tags(model, [tag])[0].prefixes)

        def baseline(tag: str = tag) -> list[str]:
            return sorted(by_name[tag]["properties"]["addressPrefixes"])

        base = median_time(baseline, repeat)
        results.append(Result(f"2 extract {tag}", median_time(ours, repeat), base, None))
        results.append(
            Result(
                f"2 extract {tag} --aggregate",
                median_time(ours_aggregated, max(3, repeat // 2)),
                base,
                None,
            )
        )
    return results


# --- case 3: diff all tags ----------------------------------------------------------------------
def diff_all_tags_args(data_dir: Path, state: str) -> list[str]:
    """`tagsync diff --all-tags --format json` arguments for the two consecutive full files."""
    old, new = (data_dir / name for name in PAIR)
    return ["diff", "--all-tags", "--format", "json", "--file", str(new), "--against", str(old),
            "--state-dir", state]  # fmt: skip


def case_diff(data_dir: Path, repeat: int) -> list[Result]:
    old, new = (data_dir / name for name in PAIR)

    def ours() -> str:
        with tempfile.TemporaryDirectory() as state:
            return run_cli_in_process(diff_all_tags_args(data_dir, state))

    def baseline() -> dict[str, tuple[list[str], list[str]]]:
        before = {
            v["name"]: set(v["properties"]["addressPrefixes"])
            for v in json.loads(old.read_bytes())["values"]
        }
        after = {
            v["name"]: set(v["properties"]["addressPrefixes"])
            for v in json.loads(new.read_bytes())["values"]
        }
        changes = {}
        for name in before.keys() | after.keys():
            b, a = before.get(name, set()), after.get(name, set())
            if a != b:
                changes[name] = (sorted(a - b), sorted(b - a))
        return changes

    return [
        Result(
            "3 diff --all-tags (two full files)",
            median_time(ours, repeat),
            median_time(baseline, repeat),
            3.0,
        )
    ]


# --- case 5: CLI cold start ---------------------------------------------------------------------
MINIMAL_TYPER_APP = textwrap.dedent(
    """
    import json
    from pathlib import Path
    from typing import Annotated, Optional
    import typer
    app = typer.Typer()
    @app.command()
    def prefixes(tags: Annotated[Optional[list[str]], typer.Argument()] = None,
                 file: Annotated[Optional[Path], typer.Option("--file")] = None) -> None:
        document = json.loads(file.read_bytes())
        wanted = set(tags or ["AzureAdvancedThreatProtection"])
        found = [p for v in document["values"] if v["name"] in wanted
                 for p in v["properties"]["addressPrefixes"]]
        print("\\n".join(sorted(found)))
    app()
    """
)


def process_time(argv: list[str], repeat: int) -> float:
    def run() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return median_time(run, repeat, warmup=2)


def case_cold_start(data_dir: Path, repeat: int) -> list[Result]:
    python = sys.executable
    full = str(data_dir / FULL)
    with tempfile.TemporaryDirectory() as scratch:
        minimal = Path(scratch) / "minimal_app.py"
        minimal.write_text(MINIMAL_TYPER_APP)
        state = str(Path(scratch) / "state")
        import_typer = process_time([python, "-c", "import typer"], repeat)
        help_time = process_time([python, "-m", "tagsync", "--help"], repeat)
        ours = process_time(
            [python, "-m", "tagsync", "prefixes", "--file", full, "--state-dir", state], repeat
        )
        floor = process_time([python, str(minimal), "--file", full], repeat)
    return [
        Result("5 tagsync --help vs import typer", help_time, import_typer, 1.5),
        Result("5 tagsync prefixes --file FULL vs minimal app", ours, floor, 1.5),
    ]


# --- memory ------------------------------------------------------------------------------------
def peak_rss_of_diff(data_dir: Path) -> str:
    with tempfile.TemporaryDirectory() as state:
        code = (
            "import resource, sys\n"
            "from tagsync.cli import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, *diff_all_tags_args(data_dir, state)],
            capture_output=True,
            text=True,
            check=False,
        )
    peak_mib = int(proc.stderr.strip().splitlines()[-1]) / 1024
    status = "ok" if peak_mib < 300 else "MISSED"
    label = "memory: peak RSS diff --all-tags"
    return f"{label:<44} {peak_mib:9.1f} MiB   (target < 300 MiB) {status}"


CASES: dict[str, Callable[[Path, int], list[Result]]] = {
    "load": case_load,
    "extract": case_extract,
    "diff": case_diff,
    "coldstart": case_cold_start,
}


def default_data() -> Path:
    """The real Public versions shipped in tests/data, unpacked on first use (datafiles.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from datafiles import public_dir

    return public_dir()


def register_optional_cases() -> None:
    """Cases that live beside this file (render, lookup, feeds, coverage) join the suite when
    present."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for module_name, case_name in (
        ("bench_render", "render"),
        ("bench_lookup", "lookup"),
        ("bench_feeds", "feeds"),
        ("bench_coverage", "coverage"),
        ("bench_history", "history"),
    ):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        case = getattr(module, "suite_case", None)
        if case is not None:
            CASES[case_name] = case


def main() -> None:
    register_optional_cases()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--data", type=Path, default=None, help="default: tests/data")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), default=None)
    args = parser.parse_args()
    args.data = args.data or default_data()
    os.environ.setdefault("COLUMNS", "100")
    print(f"{'case':<44} {'tagsync':>12} {'baseline':>12} {'ratio':>8}  target")
    for name in args.only or list(CASES):
        for result in CASES[name](args.data, args.repeat):
            print(result.line(), flush=True)
    if not args.only or "diff" in args.only:
        print(peak_rss_of_diff(args.data))


if __name__ == "__main__":
    main()
