"""`tagsync history import`: real published files back-filled into the history.

Expected orders and contents come from the files themselves read with plain json (dates split
from the names by string slicing), never from tagsync.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.clouds import get_cloud
from tagsync.history import history_of
from tagsync.store import Store

GOV = "servicetags/usgov"


def gov_files() -> list[Path]:
    shared_file(f"{GOV}/ServiceTags_AzureGovernment_20251020.json")
    return sorted((SHARED_DATA / GOV).glob("ServiceTags_AzureGovernment_*.json"))


def name_date(path: Path) -> str:
    digits = path.stem.rsplit("_", 1)[1]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


def plain(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def expected_versions(files: list[Path]) -> list[tuple[int, str]]:
    """(changeNumber, date) by name date, consecutive files with equal values collapsed to
    the first of them."""
    found: list[tuple[int, str]] = []
    previous = None
    for path in sorted(files, key=name_date):
        document = plain(path)
        if document["values"] != previous:
            found.append((document["changeNumber"], name_date(path)))
        previous = document["values"]
    return found


def kept(state: Path, cloud: str = "usgov") -> list[tuple[int, str]]:
    versions, problems = history_of(Store(state, get_cloud(cloud))).versions()
    assert problems == []
    return [(info.change_number, info.published) for info in versions]


def run(runner: CliRunner, state: Path, *args: str) -> Any:
    return runner.invoke(app, ["history", "import", *args, "--state-dir", str(state)])


def state_files(state: Path) -> dict[str, bytes]:
    return {str(p.relative_to(state)): p.read_bytes() for p in state.rglob("*") if p.is_file()}


def test_out_of_order_then_twice(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    shuffled = files[:]
    random.Random(7).shuffle(shuffled)
    result = run(runner, tmp_path, "--cloud", "usgov", *map(str, shuffled))
    assert result.exit_code == 0, result.output
    expected = expected_versions(files)
    assert len(expected) < len(files)  # the real files include three equal-content releases
    assert kept(tmp_path) == expected
    assert result.stdout.count("\nimported ") + result.stdout.startswith("imported ") == len(
        expected
    )
    assert "only the top-level changeNumber differs" in result.stdout
    # Every kept version holds exactly the tags of its file.
    store = Store(tmp_path, get_cloud("usgov"))
    history = history_of(store)
    versions, _ = history.versions()
    by_number = {plain(path)["changeNumber"]: plain(path) for path in files}
    for info in versions:
        loaded = history.load(info)
        document = by_number[info.change_number]
        assert list(loaded.tags) == [value["name"] for value in document["values"]]
    before = state_files(tmp_path)
    again = run(runner, tmp_path, "--cloud", "usgov", *map(str, files))
    assert again.exit_code == 0
    assert f"0 of {len(files)} files imported" in again.stdout
    assert state_files(tmp_path) == before  # nothing rewritten
    assert not store.meta_path.exists()  # import never accepts


def test_contents_read_back_equal_the_files(tmp_path: Path, runner: CliRunner) -> None:
    """Delta and full manifests alike resolve to every tag's exact prefixes."""
    files = gov_files()
    assert run(runner, tmp_path, "--cloud", "usgov", *map(str, files)).exit_code == 0
    history = history_of(Store(tmp_path, get_cloud("usgov")))
    versions, _ = history.versions()
    raw = [json.loads(gzip.decompress(info.path.read_bytes())) for info in versions]
    assert [document.get("base") is None for document in raw].count(False) >= 1  # deltas used
    by_number = {plain(path)["changeNumber"]: plain(path) for path in files}
    for info in versions:
        document = by_number[info.change_number]
        for value in document["values"]:
            tag = history.tag(info, value["name"])
            assert sorted(tag.prefixes) == sorted(
                _canonical(p) for p in value["properties"]["addressPrefixes"]
            )


def _canonical(prefix: str) -> str:
    import ipaddress

    return str(ipaddress.ip_network(prefix)) if ":" in prefix else prefix


def test_damaged_files_are_named_and_the_rest_imported(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    html = tmp_path / "ServiceTags_AzureGovernment_20250901.json"
    html.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    truncated = tmp_path / "ServiceTags_AzureGovernment_20250908.json"
    truncated.write_bytes(files[0].read_bytes()[:50_000])
    public = shared_file("servicetags/china/ServiceTags_China_20250818.json")
    state = tmp_path / "state"
    args = [str(html), *map(str, files[:4]), str(truncated), str(public), *map(str, files[4:])]
    result = run(runner, state, "--cloud", "usgov", *args)
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 3
    assert any(str(html) in line and "HTML" in line for line in errors)
    assert any(str(truncated) in line and "truncated" in line for line in errors)
    assert any(str(public) in line and "China" in line for line in errors)
    assert "Traceback" not in result.output
    assert kept(state) == expected_versions(files)  # nothing lost


def test_older_files_go_before_the_snapshot_which_stays(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    accepted = next(p for p in files if p.name.endswith("20251006.json"))
    update = runner.invoke(
        app, ["update", "--cloud", "usgov", "--file", str(accepted), "--state-dir", str(tmp_path)]
    )
    assert update.exit_code in (0, 1), update.output
    store = Store(tmp_path, get_cloud("usgov"))
    snapshot = store.meta_path.read_bytes()
    result = run(runner, tmp_path, "--cloud", "usgov", *map(str, files))
    assert result.exit_code == 0, result.output
    assert store.meta_path.read_bytes() == snapshot
    older = [path for path in files if name_date(path) <= "2025-10-06"]
    assert kept(tmp_path) == expected_versions(older)
    newer = [path for path in files if name_date(path) > "2025-10-06"]
    for path in newer:
        assert f"skipped {path}: newer than the accepted snapshot" in result.stdout
    # `history TAG` now reaches back to the oldest file.
    shown = runner.invoke(
        app,
        ["history", "AzureCloud", "--cloud", "usgov", "--state-dir", str(tmp_path), "-q"],
    )
    assert shown.exit_code == 0
    assert f"{len(expected_versions(older))} kept versions" in shown.stdout
    assert "published 2025-07-28" in shown.stdout


def test_a_snapshot_missing_from_history_is_added_last(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    newest = files[-1]
    config = tmp_path / "config.yaml"
    config.write_text("history:\n  keep: 0\n")
    args = ["--cloud", "usgov", "--state-dir", str(tmp_path / "s"), "--file", str(newest)]
    assert runner.invoke(app, ["update", *args, "--config", str(config)]).exit_code in (0, 1)
    assert kept(tmp_path / "s") == []
    result = run(runner, tmp_path / "s", "--cloud", "usgov", str(files[0]))
    assert result.exit_code == 0, result.output
    numbers = kept(tmp_path / "s")
    assert numbers == [
        (plain(files[0])["changeNumber"], name_date(files[0])),
        (plain(newest)["changeNumber"], name_date(newest)),
    ]


def test_keep_applies_and_keep_zero_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    config = tmp_path / "config.yaml"
    config.write_text("history:\n  keep: 2\n")
    state = tmp_path / "s"
    result = run(runner, state, "--cloud", "usgov", "--config", str(config), *map(str, files))
    assert result.exit_code == 0, result.output
    assert kept(state) == expected_versions(files)[-2:]
    assert "older than the 2 versions history keeps" in result.stdout
    config.write_text("history:\n  keep: 0\n")
    off = run(runner, state, "--cloud", "usgov", "--config", str(config), str(files[0]))
    assert off.exit_code == 2
    assert "history is off" in off.stderr


def test_undated_file_goes_by_change_number(runner: CliRunner, tmp_path: Path) -> None:
    files = gov_files()
    dated = [files[0], files[4], files[6]]  # 20250728, 20250825, 20251013
    copy = tmp_path / "latest-copy.json"
    copy.write_bytes(files[5].read_bytes())  # 20251006, between the last two by changeNumber
    state = tmp_path / "s"
    result = run(runner, state, "--cloud", "usgov", str(copy), *map(str, dated))
    assert result.exit_code == 0, result.output
    numbers = [number for number, _ in kept(state)]
    assert numbers == sorted(plain(path)["changeNumber"] for path in [*dated, copy])
    store = Store(state, get_cloud("usgov"))
    versions, _ = history_of(store).versions()
    undated = next(info for info in versions if info.source == str(copy))
    assert undated.published_basis == "accepted"


def test_import_is_not_a_tag_and_show_reaches_a_tag_so_named(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = gov_files()
    assert run(runner, tmp_path, "--cloud", "usgov", str(files[0])).exit_code == 0
    as_tag = runner.invoke(
        app, ["history", "show", "import", "--cloud", "usgov", "--state-dir", str(tmp_path)]
    )
    assert as_tag.exit_code == 3
    assert "no tag named 'import'" in as_tag.stderr
    default = runner.invoke(
        app, ["history", "AzureCloud", "--cloud", "usgov", "--state-dir", str(tmp_path)]
    )
    assert default.exit_code == 0 and default.stdout.startswith("AzureCloud in AzureGovernment")
    helped = runner.invoke(app, ["history", "--help"])
    assert helped.exit_code == 0 and "import" in helped.stdout
    missing = run(runner, tmp_path, "--cloud", "usgov")
    assert missing.exit_code == 2


@pytest.mark.parametrize("damaged", ["delta", "full"])
def test_damaged_manifest_costs_at_most_its_chain(
    runner: CliRunner, tmp_path: Path, damaged: str
) -> None:
    files = gov_files()
    assert run(runner, tmp_path, "--cloud", "usgov", *map(str, files)).exit_code == 0
    history = history_of(Store(tmp_path, get_cloud("usgov")))
    versions, _ = history.versions()
    raw = {info.seq: json.loads(gzip.decompress(info.path.read_bytes())) for info in versions}
    full = [info for info in versions if raw[info.seq].get("base") is None]
    deltas = [info for info in versions if raw[info.seq].get("base") is not None]
    victim = deltas[0] if damaged == "delta" else full[0]
    victim.path.write_bytes(b"\x1f\x8b garbage")
    after, problems = history_of(Store(tmp_path, get_cloud("usgov"))).versions()
    lost = {info.seq for info in versions} - {info.seq for info in after}
    # The victim and the deltas after it in its chain (each based on the one before).
    expected = {victim.seq}
    for info in versions:
        if raw[info.seq].get("base") in expected:
            expected.add(info.seq)
    assert lost == expected
    assert len(problems) == len(lost) and str(victim.path) in problems[0]
