"""The sample GitHub workflow, run step by step on three real weekly files in a scratch git
repository: what it commits stays small (<= 100 KB per weekly run) and is what review needs.

The check step's own shell script is taken from samples/github-workflow.yml and run by bash
the way Actions runs it (`bash -e -o pipefail`), with RUNNER_TEMP and GITHUB_OUTPUT set; the
only edit is `--file` on `tagsync check`, so nothing is downloaded. The pull request is
stood in for by committing the step's `add-paths` on the default branch (a merged PR).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, SAMPLES, public

WORKFLOW = SAMPLES / "github-workflow.yml"
CHECK = "tagsync check --config tagsync.yaml"
WEEKS = ("20250728", "20250804", "20251006")  # each changes AzureAdvancedThreatProtection
QUIET_WEEK = "20250811"  # same AzureAdvancedThreatProtection as 20250804
GROWTH_LIMIT = 100 * 1024
ATP = "AzureAdvancedThreatProtection"


def _steps() -> list[dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    steps: list[dict[str, Any]] = document["jobs"]["check"]["steps"]
    return steps


def _check_script(source: Path) -> str:
    (step,) = [s for s in _steps() if s.get("id") == "check"]
    script: str = step["run"]
    assert script.count(CHECK) == 1
    return script.replace(CHECK, f"{CHECK} --file {source}")


def _add_paths() -> list[str]:
    (step,) = [s for s in _steps() if s.get("uses", "").startswith("peter-evans/")]
    return str(step["with"]["add-paths"]).split()


def _git(repo: Path, *args: str) -> str:
    run = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120, check=True
    )
    return run.stdout


def _loose_bytes(repo: Path) -> int:
    """Bytes of the loose objects: each new object zlib-compressed, no delta against the
    previous week (the strict measure: packing only makes it smaller). `git count-objects`
    rounds each file up to whole disk blocks, so the files are summed here."""
    objects = repo / ".git" / "objects"
    return sum(p.stat().st_size for p in objects.glob("[0-9a-f][0-9a-f]/*"))


def _pack_bytes(repo: Path) -> int:
    """Bytes of the packs after `git gc`: what a clone downloads."""
    _git(repo, "gc", "-q", "--prune=now")
    return sum(p.stat().st_size for p in (repo / ".git" / "objects" / "pack").glob("*.pack"))


class Repo:
    """A scratch repository laid out as the workflow's header asks."""

    def __init__(self, root: Path) -> None:
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        self.path, self.temp = root / "repo", root / "runner-temp"
        self.packed_growth: list[int] = []
        self.path.mkdir()
        _git(self.path, "init", "-q", "-b", "main")
        _git(self.path, "config", "user.email", "ci@example.test")
        _git(self.path, "config", "user.name", "ci")
        (self.path / ".github" / "workflows").mkdir(parents=True)
        shutil.copy(WORKFLOW, self.path / ".github" / "workflows" / "tagsync.yml")
        shutil.copy(SAMPLES / "config.example.yaml", self.path / "tagsync.yaml")
        _git(self.path, "add", "-A")
        _git(self.path, "commit", "-q", "-m", "set up")

    def week(self, source: Path) -> tuple[int, int]:
        """Run the check step for ``source``; commit on a change. (exit code, bytes added)"""
        shutil.rmtree(self.temp, ignore_errors=True)
        self.temp.mkdir()
        output = self.temp / "github-output"
        env = {
            **os.environ,
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output),
            # The tagsync of this checkout, as `pip install` would put it on PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(REPO),
        }
        run = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", _check_script(source)],
            cwd=self.path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        (code,) = re.findall(r"^exit-code=(\d+)$", output.read_text(), re.MULTILINE)
        packed = _pack_bytes(self.path)
        if code == "1":
            _git(self.path, "add", "-A", "--", *_add_paths())
            _git(self.path, "commit", "-q", "-m", f"tagsync: {source.name}")
        loose = _loose_bytes(self.path)  # gc left none: these are this run's
        self.packed_growth.append(_pack_bytes(self.path) - packed)
        return int(code), loose

    def committed(self) -> dict[str, int]:
        listing = _git(self.path, "ls-tree", "-r", "-l", "HEAD")
        return {line.split("\t")[1]: int(line.split()[3]) for line in listing.splitlines()}


def _tag(document: dict[str, Any], name: str) -> dict[str, Any]:
    (tag,) = [t for t in document["values"] if t["name"] == name]
    assert isinstance(tag, dict)
    return tag


def _prefixes(source: Path) -> set[str]:
    return set(_tag(json.loads(source.read_bytes()), ATP)["properties"]["addressPrefixes"])


def test_weekly_runs_commit_little(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    growth = []
    for date in WEEKS:
        code, added = repo.week(public(date))
        assert code == 1, date
        growth.append(added)
        # The committed baseline is the published entry of each watched tag, unchanged.
        baseline = json.loads((repo.path / "state" / "ServiceTags_watched.json").read_text())
        published = json.loads(public(date).read_bytes())
        assert baseline["changeNumber"] == published["changeNumber"]
        assert baseline["values"] == [_tag(published, ATP)]
    print(f"\ngrowth per weekly run, loose: {growth}, packed: {repo.packed_growth} bytes")
    assert all(0 < added <= GROWTH_LIMIT for added in growth), growth
    assert all(added <= GROWTH_LIMIT for added in repo.packed_growth), repo.packed_growth
    files = repo.committed()
    assert max(files.values()) < 100_000, files  # never the 4 MB download
    assert {name.split("/")[0] for name in files} == {
        ".github",
        "tagsync.yaml",
        "state",
        "rendered",
    }
    # The last run's report (the PR description) names the addresses that came.
    report = (repo.temp / "tagsync-report.md").read_text()
    assert ATP in report


def test_a_quiet_week_commits_nothing_and_the_next_change_is_against_the_merged_baseline(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path)
    assert repo.week(public("20250804"))[0] == 1
    head = _git(repo.path, "rev-parse", "HEAD")
    assert repo.week(public(QUIET_WEEK)) == (0, 0)
    assert _git(repo.path, "rev-parse", "HEAD") == head
    assert not _git(repo.path, "status", "--porcelain", "--", "state")
    # 20251006 adds two IPv4 and two IPv6 prefixes to the tag: the report shows them.
    old = set(
        _tag(json.loads(public(QUIET_WEEK).read_bytes()), ATP)["properties"]["addressPrefixes"]
    )
    new = set(
        _tag(json.loads(public("20251006").read_bytes()), ATP)["properties"]["addressPrefixes"]
    )
    code, _ = repo.week(public("20251006"))
    assert code == 1
    report = (repo.temp / "tagsync-report.md").read_text()
    assert all(prefix in report for prefix in new - old), sorted(new - old)
