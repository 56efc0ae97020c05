"""A version whose prefix texts change but whose addresses do not (a re-aggregation) is no
change for `diff --exit-code` or `check` unless `--text-changes` asks for it; configs are still
re-rendered."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from conftest import SAMPLE_NEW
from typer.testing import CliRunner

from tagsync.cli import app

TAG = "AzureAdvancedThreatProtection"


def split_first_prefix(tmp_path: Path) -> tuple[Path, list[str]]:
    """The sample with the tag's first splittable IPv4 prefix published as its two halves."""
    document = json.loads(SAMPLE_NEW.read_bytes())
    entry = next(v for v in document["values"] if v["name"] == TAG)
    prefixes = entry["properties"]["addressPrefixes"]
    index, network = next(
        (i, ipaddress.ip_network(p))
        for i, p in enumerate(prefixes)
        if ":" not in p and ipaddress.ip_network(p).prefixlen < 32
    )
    halves = [str(n) for n in network.subnets(prefixlen_diff=1)]
    prefixes[index : index + 1] = halves
    entry["properties"]["changeNumber"] += 1
    path = tmp_path / "ServiceTags_Public_reaggregated.json"
    path.write_text(json.dumps(document))
    return path, halves


def test_diff_exit_code_ignores_a_reaggregation(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state")
    accepted = runner.invoke(app, ["update", "-f", str(SAMPLE_NEW), "--state-dir", state])
    assert accepted.exit_code == 0, accepted.output
    changed, halves = split_first_prefix(tmp_path)
    base = ["diff", "-f", str(changed), "--state-dir", state, "--exit-code"]
    plain = runner.invoke(app, base)
    assert plain.exit_code == 0, plain.output
    assert "re-aggregated" in plain.stdout
    assert runner.invoke(app, [*base, "--text-changes"]).exit_code == 1
    document = json.loads(runner.invoke(app, [*base, "--format", "json"]).stdout)
    coverage = document["tags"][TAG]["coverage"]
    assert coverage["gained"] == [] and coverage["lost"] == []
    assert sorted(document["tags"][TAG]["added"]) == sorted(halves)


def test_check_rerenders_but_does_not_alert_on_a_reaggregation(tmp_path: Path) -> None:
    runner = CliRunner()
    state, out = tmp_path / "state", tmp_path / "out"
    args = ["--state-dir", str(state), "--out", str(out)]
    first = runner.invoke(app, ["check", "-f", str(SAMPLE_NEW), *args])
    assert first.exit_code == 1, first.output
    changed, halves = split_first_prefix(tmp_path)
    second = runner.invoke(app, ["check", "-f", str(changed), *args])
    assert second.exit_code == 0, second.output
    # The prefix-listing outputs follow the new texts all the same.
    edl = (out / "paloalto" / "edl.txt").read_text()
    entries = [line.split(" #")[0] for line in edl.splitlines()]  # the header rides on line 1
    assert all(half in entries for half in halves)
    third = runner.invoke(
        app, ["check", "-f", str(SAMPLE_NEW), *args, "--text-changes", "--allow-rollback"]
    )
    assert third.exit_code == 1, third.output
