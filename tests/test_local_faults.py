"""Local file system faults: one line naming the path and the cause, exit 6, nothing lost.

Exit 1 means "changed" to cron, systemd (SuccessExitStatus=1) and the sample workflow, so a
state dir that is a file, a read-only mount or a full disk must never look like it. Read-only
and full file systems are real: a tmpfs mounted read-only or tiny in a private mount namespace
(`unshare -m`), so nothing outside the test sees them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public

EXIT_LOCAL = 6

needs_mounts = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare -m"
)


def tagsync(*args: str | Path, mount: str = "") -> subprocess.CompletedProcess[str]:
    """The real CLI, optionally after mounting in a private mount namespace."""
    command = [sys.executable, "-m", "tagsync", *map(str, args)]
    if mount:
        script = f"{mount} && exec {shlex.join(command)}"
        command = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def assert_local_fault(result: subprocess.CompletedProcess[str], *names: str) -> None:
    assert result.returncode == EXIT_LOCAL, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tagsync: error: ")
    for name in names:
        assert name in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("prefixes",),
        ("tags",),
        ("update", "-f", SAMPLE_NEW),
        ("diff", "-f", SAMPLE_NEW),
        ("check", "-f", SAMPLE_NEW, "--out", "OUT"),
    ],
    ids=lambda args: str(args[0]),
)
def test_state_dir_that_is_a_file(tmp_path: Path, args: tuple[str | Path, ...]) -> None:
    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("a file, not a directory\n")
    resolved = [tmp_path / "out" if a == "OUT" else a for a in args]
    result = tagsync(*resolved, "--state-dir", not_a_dir)
    assert_local_fault(result, str(not_a_dir))
    assert not_a_dir.read_text() == "a file, not a directory\n"


def test_fetch_output_is_a_directory(tmp_path: Path) -> None:
    result = tagsync("fetch", "-f", SAMPLE_NEW, "-o", tmp_path)
    assert_local_fault(result, str(tmp_path), "directory")


@needs_mounts
def test_read_only_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    mount = f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(state))}"
    out = tmp_path / "out"
    for args in (("update", "-f", SAMPLE_NEW), ("check", "-f", SAMPLE_NEW, "--out", out)):
        result = tagsync(*args, "--state-dir", state, mount=mount)
        assert_local_fault(result, "Read-only file system")


@needs_mounts
def test_read_only_fetch_output(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    mount = f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(target))}"
    result = tagsync("fetch", "-f", SAMPLE_NEW, "-o", target / "x.json", mount=mount)
    assert_local_fault(result, str(target), "Read-only file system")


@needs_mounts
def test_full_disk_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    big = public("20250804")  # ~4 MB: cannot fit, the sample (~45 KB) can
    quoted = shlex.quote(str(state))
    update = [sys.executable, "-m", "tagsync", "update", "--state-dir", str(state), "-f"]
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {quoted} && "
        f"{shlex.join([*update, str(SAMPLE_OLD), '-q'])} && "
        f"{shlex.join([*update, str(big), '--force'])}; code=$?; "
        f"{shlex.join([sys.executable, '-m', 'tagsync', 'prefixes', '--state-dir', str(state)])}"
        " > /dev/null || exit 99; "
        f"find {quoted} -name '*.tmp*' -o -name '.tagsync-*' | grep . && exit 98; exit $code"
    )
    result = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert_local_fault(result, "No space left on device")
