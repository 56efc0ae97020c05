"""Shared fixtures: the real published files in ../shared/data and the shipped samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SHARED_DATA = Path(os.environ.get("TAGSYNC_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE_OLD = SAMPLES / "ServiceTags_Public_20250728.sample.json"
SAMPLE_NEW = SAMPLES / "ServiceTags_Public_20250804.sample.json"


def shared_file(relative: str) -> Path:
    """A real published file from ../shared/data (skip, or fail in CI, when it is absent)."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("TAGSYNC_REQUIRE_SHARED_DATA"):
            pytest.fail(f"{path} is missing: CI needs ../shared/data beside the checkout")
        pytest.skip(f"{path} not available")
    return path


def public(date: str) -> Path:
    return shared_file(f"servicetags/public/ServiceTags_Public_{date}.json")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
