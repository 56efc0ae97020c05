"""Shared fixtures: the real published files in ../shared/data and the shipped samples."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

if TYPE_CHECKING:
    from netns import Topology

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


@pytest.fixture
def netns_host() -> Iterator[Topology]:
    """A private topology: the host under test and a far end that owns every address
    (tests/netns.py); torn down after the test."""
    from netns import host_topology

    with host_topology() as topology:
        yield topology


# The gateway topology's sensor-side sources: the first of each family is the allowed one.
NETNS_SOURCES = (("10.77.0.10", "fd77::10"), ("10.77.0.20", "fd77::20"))


@pytest.fixture
def netns_gateway() -> Iterator[Topology]:
    """sensor --- gateway under test --- far end; the sensor holds NETNS_SOURCES."""
    from netns import gateway_topology

    (allowed4, allowed6), (other4, other6) = NETNS_SOURCES
    with gateway_topology([allowed4, other4], [allowed6, other6]) as topology:
        yield topology
