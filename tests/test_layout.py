"""The package's shape: every module imports alone, without side effects, and stays small.

Each import runs in a fresh interpreter, so an import circle that only breaks when a module is
the first one imported cannot hide behind modules an earlier test already loaded.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import tagsync

PACKAGE_DIR = Path(tagsync.__file__).resolve().parent
# The checkout under test, first on the path: the installed copy may be another checkout.
SOURCE_ROOT = PACKAGE_DIR.parent

MAX_LINES = 400

# `python -m tagsync` runs the CLI when imported: that is its job, not a side effect.
RUNS_ON_IMPORT = {"tagsync.__main__"}

# Imported inside the commands that need them, so `tagsync --help` starts fast.
HEAVY_MODULES = ("requests", "deepdiff", "jinja2", "netaddr", "rich", "yaml")


def _walk(directory: Path, prefix: str) -> Iterator[str]:
    for info in pkgutil.iter_modules([str(directory)], prefix):
        yield info.name
        if info.ispkg:
            yield from _walk(directory / info.name.rpartition(".")[2], f"{info.name}.")
    # pkgutil skips directories without __init__.py; Python imports them as namespace packages.
    for child in sorted(directory.iterdir()):
        if child.is_dir() and not (child / "__init__.py").exists() and any(child.glob("*.py")):
            yield from _walk(child, f"{prefix}{child.name}.")


def package_modules() -> list[str]:
    """Every module of the tagsync package, sub-packages included.

    pkgutil.walk_packages alone would miss namespace packages such as tagsync/formats.
    """
    return ["tagsync", *_walk(PACKAGE_DIR, "tagsync.")]


MODULES = package_modules()


@dataclass(frozen=True, slots=True)
class ImportRun:
    returncode: int
    stdout: str
    stderr: str
    created: list[str]  # files or directories left in the temporary HOME, cwd or TMPDIR


def _python_path() -> str:
    return os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))


def _isolated_env(home: Path, scratch: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        TMPDIR=str(scratch),
        PYTHONPATH=_python_path(),
    )
    return env


def _import_alone(module: str, root: Path) -> ImportRun:
    home, cwd, scratch = root / "home", root / "cwd", root / "tmp"
    for directory in (home, cwd, scratch):
        directory.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=cwd,
        env=_isolated_env(home, scratch),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    created = sorted(
        str(path.relative_to(root))
        for directory in (home, cwd, scratch)
        for path in directory.rglob("*")
    )
    return ImportRun(result.returncode, result.stdout, result.stderr, created)


@pytest.fixture(scope="module")
def import_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ImportRun]:
    """One fresh interpreter per module, a few at a time (the threads only wait on them)."""
    root = tmp_path_factory.mktemp("imports")
    modules = [name for name in MODULES if name not in RUNS_ON_IMPORT]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        runs = pool.map(lambda name: _import_alone(name, root / name), modules)
        return dict(zip(modules, runs, strict=True))


def test_discovery_sees_every_module_file() -> None:
    on_disk = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = path.relative_to(SOURCE_ROOT).with_suffix("").parts
        on_disk.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert on_disk == set(MODULES)


@pytest.mark.parametrize("module", [m for m in MODULES if m not in RUNS_ON_IMPORT])
def test_module_imports_alone(module: str, import_runs: dict[str, ImportRun]) -> None:
    run = import_runs[module]
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("module", [m for m in MODULES if m not in RUNS_ON_IMPORT])
def test_import_has_no_side_effects(module: str, import_runs: dict[str, ImportRun]) -> None:
    run = import_runs[module]
    assert (run.stdout, run.stderr) == ("", ""), "printed while being imported"
    assert run.created == [], "created files while being imported"


def test_no_module_is_over_the_line_limit() -> None:
    too_long = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long[relative] = lines
    assert too_long == {}, f"split these by job (limit {MAX_LINES} lines)"


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    env = {**os.environ, "PYTHONPATH": _python_path()}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_store_does_not_import_history() -> None:
    loaded = _modules_loaded_by("import tagsync.store")
    assert "tagsync.store" in loaded
    assert not {name for name in loaded if name.split(".")[:2] == ["tagsync", "history"]}


def test_cli_start_up_imports_no_heavy_module() -> None:
    loaded = _modules_loaded_by("import tagsync.cli")
    assert "tagsync.cli" in loaded
    assert [name for name in HEAVY_MODULES if name in loaded] == []
