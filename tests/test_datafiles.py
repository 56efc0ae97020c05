"""The shipped test data: small, byte-exact to its provenance record, unpacked safely; and the
no-skip rule .ci/run relies on."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import datafiles
import pytest
from conftest import REPO

# One row of a SOURCES.md table: `path` | changeNumber | tags | AATP | size | EOL | `sha256` | ...
ROW = re.compile(
    r"^\| `(servicetags/[^`]+)` \| \d+ \| \d+ \| [^|]+ \| (\d+) \| (CRLF|LF) "
    r"\| `([0-9a-f]{64})` \|",
    re.MULTILINE,
)


def test_shipped_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in datafiles.SHIPPED.rglob("*") if p.is_file())
    assert total <= 10 * 1024 * 1024


def test_every_file_matches_its_provenance_record() -> None:
    """Size, line endings and hash of each unpacked file, as SOURCES.md records them."""
    rows = ROW.findall((datafiles.SHIPPED / "SOURCES.md").read_text("utf-8"))
    assert len(rows) == 14 + 8 + 5
    sums = datafiles.recorded_sums()
    assert {name for name in sums if name.startswith("servicetags/")} == {r[0] for r in rows}
    root = datafiles.ensure()
    for name, size, eol, digest in rows:
        body = (root / name).read_bytes()
        assert sums[name] == digest == hashlib.sha256(body).hexdigest(), name
        assert len(body) == int(size), name
        lines = body.count(b"\n")
        assert body.count(b"\r\n") == (lines if eol == "CRLF" else 0), name
    for name in sums:  # the page excerpts have no table row: SHA256SUMS alone vouches for them
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == sums[name]


def _fresh(monkeypatch: pytest.MonkeyPatch, cache: Path) -> Path:
    monkeypatch.delenv(datafiles.OVERRIDE, raising=False)
    monkeypatch.setattr(datafiles, "CACHE", cache)
    return datafiles.ensure.__wrapped__()


def test_unpacks_into_an_empty_cache_and_repairs_a_damaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fresh(monkeypatch, tmp_path / "cache")
    assert root.parent == tmp_path / "cache"
    victim = root / "servicetags/public/ServiceTags_Public_20251006.json"
    good = victim.read_bytes()
    assert not os.access(victim, os.W_OK) or os.geteuid() == 0  # unpacked read-only
    victim.chmod(0o644)
    victim.write_bytes(good.replace(b'"Public"', b'"Damaged"', 1))
    assert _fresh(monkeypatch, tmp_path / "cache") == root
    assert victim.read_bytes() == good
    assert [p.name for p in root.parent.iterdir()] == [root.name]  # no scratch left behind


def test_override_points_at_an_unpacked_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datafiles.OVERRIDE, "/nonexistent/shared/data")
    assert datafiles.ensure.__wrapped__() == Path("/nonexistent/shared/data")


def test_no_skips_mode_fails_a_session_with_a_skip(tmp_path: Path) -> None:
    (tmp_path / "test_skipper.py").write_text(
        "import pytest\n\ndef test_ok():\n    pass\n\n"
        "def test_skipped():\n    pytest.skip('tool missing')\n"
    )
    # .ci/run sets TAGSYNC_NO_SKIPS for the outer session: the relaxed run must not inherit it.
    env = {k: v for k, v in os.environ.items() if k != "TAGSYNC_NO_SKIPS"}
    env["PYTHONPATH"] = str(REPO / "tests")
    # The repository's conftest, loaded as a plugin by name, supplies the hook under test.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider"]
    relaxed = subprocess.run(
        [*command, "test_skipper.py"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert relaxed.returncode == 0, relaxed.stdout
    env["TAGSYNC_NO_SKIPS"] = "1"
    strict = subprocess.run(
        [*command, "test_skipper.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert strict.returncode == 1, strict.stdout
    assert "1 test(s) skipped" in strict.stdout
