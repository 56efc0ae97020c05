"""Accepting versions: guards, atomic snapshot writes, locking, and bad data changing nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.clouds import CLOUDS
from tagsync.errors import LockError
from tagsync.model import parse_service_tags
from tagsync.store import Store


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (lock file excluded) with its sha256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def update(runner: CliRunner, state_dir: Path, path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["update", "--file", str(path), "--state-dir", str(state_dir), *extra]
    )
    return result.exit_code, result.stderr


def test_first_update_then_noop(runner: CliRunner, state_dir: Path) -> None:
    code, err = update(runner, state_dir, SAMPLE_OLD)
    assert code == 0, err
    assert "accepted Public changeNumber 364" in err
    store = Store(state_dir, CLOUDS["public"])
    meta = store.meta()
    assert meta is not None
    assert meta.change_number == 364
    assert meta.sha256 == hashlib.sha256(SAMPLE_OLD.read_bytes()).hexdigest()
    assert meta.source == str(SAMPLE_OLD)
    assert (store.data_dir / meta.data_name).read_bytes() == SAMPLE_OLD.read_bytes()
    code, err = update(runner, state_dir, SAMPLE_OLD)
    assert code == 0 and "already the accepted snapshot" in err


def test_update_advances_and_drops_the_old_data_file(runner: CliRunner, state_dir: Path) -> None:
    assert update(runner, state_dir, SAMPLE_OLD)[0] == 0
    assert update(runner, state_dir, SAMPLE_NEW)[0] == 0
    store = Store(state_dir, CLOUDS["public"])
    meta = store.meta()
    assert meta is not None and meta.change_number == 365
    assert [p.name for p in store.data_dir.iterdir()] == [meta.data_name]


def write_variant(tmp_path: Path, name: str, edit: object) -> Path:
    document = json.loads(SAMPLE_NEW.read_bytes())
    edit(document)  # type: ignore[operator]
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2))
    return path


def _drop_most_aatp(document: dict) -> None:  # type: ignore[type-arg]
    for value in document["values"]:
        if value["name"] == "AzureAdvancedThreatProtection":
            value["properties"]["addressPrefixes"] = value["properties"]["addressPrefixes"][:10]


def _rollback(document: dict) -> None:  # type: ignore[type-arg]
    document["changeNumber"] = 100


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("html", "got an HTML page"),
        ("truncated", "truncated JSON"),
        ("gov", "expected 'Public'"),
        ("rollback", "lower than the accepted 365"),
        ("mass", "AzureAdvancedThreatProtection would lose 152 of 162 prefixes"),
        ("badcidr", "invalid CIDR"),
    ],
)
def test_bad_data_never_changes_the_snapshot(
    runner: CliRunner, state_dir: Path, tmp_path: Path, variant: str, message: str
) -> None:
    assert update(runner, state_dir, SAMPLE_NEW)[0] == 0
    before = tree_digest(state_dir)
    if variant == "html":
        bad = tmp_path / "page.json"
        bad.write_text("<html><body>Download Center</body></html>")
    elif variant == "truncated":
        bad = tmp_path / "cut.json"
        bad.write_bytes(SAMPLE_NEW.read_bytes()[:5000])
    elif variant == "gov":
        from conftest import shared_file

        bad = shared_file("servicetags/usgov/ServiceTags_AzureGovernment_20251020.json")
    elif variant == "rollback":
        bad = write_variant(tmp_path, "old.json", _rollback)
    elif variant == "mass":
        bad = write_variant(tmp_path, "mass.json", _drop_most_aatp)
    else:
        bad = tmp_path / "badcidr.json"
        bad.write_bytes(SAMPLE_NEW.read_bytes().replace(b"13.87.32.4/32", b"13.87.32.4/40"))
    code, err = update(runner, state_dir, bad)
    assert code == 3
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert tree_digest(state_dir) == before


def test_guards_can_be_overridden(runner: CliRunner, state_dir: Path, tmp_path: Path) -> None:
    assert update(runner, state_dir, SAMPLE_NEW)[0] == 0
    mass = write_variant(tmp_path, "mass.json", _drop_most_aatp)
    assert update(runner, state_dir, mass, "--force")[0] == 0
    rollback = write_variant(tmp_path, "old.json", _rollback)
    assert update(runner, state_dir, rollback)[0] == 3
    assert update(runner, state_dir, rollback, "--allow-rollback", "--force")[0] == 0


def test_mass_removal_threshold_comes_from_config(
    runner: CliRunner, state_dir: Path, tmp_path: Path
) -> None:
    assert update(runner, state_dir, SAMPLE_NEW)[0] == 0
    mass = write_variant(tmp_path, "mass.json", _drop_most_aatp)
    config = tmp_path / "c.yaml"
    config.write_text("guards:\n  max_removal_ratio: 1.0\n")  # the variant drops all IPv6
    assert update(runner, state_dir, mass, "--config", str(config))[0] == 0


def test_same_change_number_with_new_content_is_accepted(
    runner: CliRunner, state_dir: Path, tmp_path: Path
) -> None:
    # Microsoft published two different files as changeNumber 346: equal is not a rollback.
    assert update(runner, state_dir, SAMPLE_NEW)[0] == 0
    same_number = write_variant(
        tmp_path,
        "same.json",
        lambda d: d["values"].pop(),  # drop one unwatched tag
    )
    code, err = update(runner, state_dir, same_number)
    assert code == 0 and "accepted" in err


def test_crash_mid_write_keeps_the_old_snapshot(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(state_dir, CLOUDS["public"])
    old = SAMPLE_OLD.read_bytes()
    store.save(old, parse_service_tags(old), "old")
    before = tree_digest(state_dir)
    real_replace = os.replace

    def crash_on_metadata(src: str, dst: str) -> None:
        if str(dst).endswith("snapshot.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_metadata)
    new = SAMPLE_NEW.read_bytes()
    with pytest.raises(OSError):
        store.save(new, parse_service_tags(new), "new")
    monkeypatch.undo()
    loaded = store.load()
    assert loaded is not None and loaded.change_number == 364
    leftovers = {k for k in tree_digest(state_dir) if k not in before}
    # Only the new data file may be left behind (the next save removes it); no temp files.
    assert all(name.startswith("public/data/") and name.endswith(".json") for name in leftovers)
    store.save(new, parse_service_tags(new), "new")
    meta = store.meta()
    assert meta is not None
    assert [p.name for p in store.data_dir.iterdir()] == [meta.data_name]


def test_second_run_waits_for_the_lock_then_gives_up_clearly(
    runner: CliRunner, state_dir: Path
) -> None:
    store = Store(state_dir, CLOUDS["public"])
    store.root.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import filelock, sys, time\n"
            f"lock = filelock.FileLock({str(store.root / '.lock')!r})\n"
            "lock.acquire()\nprint('held', flush=True)\ntime.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, err = update(runner, state_dir, SAMPLE_NEW, "--lock-timeout", "0.5")
        assert code == 3
        assert "another tagsync run holds the state lock (waited 0.5s)" in err
        assert store.meta() is None
        with pytest.raises(LockError), store.locked(timeout=0.1):
            pass
    finally:
        holder.kill()
        holder.wait()
    code, _ = update(runner, state_dir, SAMPLE_NEW, "--lock-timeout", "5")
    assert code == 0


def test_two_processes_racing_update_leave_one_valid_snapshot(state_dir: Path) -> None:
    files = [public("20250728"), public("20250804")]
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tagsync",
                    "update",
                    "--force",
                    "--allow-rollback",
                    "--file",
                    str(path),
                    "--state-dir",
                    str(state_dir),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for path in files
        ]
        results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
        assert [r[2] for r in results] == [0, 0], results
        store = Store(state_dir, CLOUDS["public"])
        snapshot = store.load()  # verifies the data file against the recorded sha256
        assert snapshot is not None
        meta = store.meta()
        assert meta is not None
        assert meta.sha256 in {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        assert [p.name for p in store.data_dir.iterdir()] == [meta.data_name]
        assert not list(store.root.rglob("*.tmp"))
