"""Shared fixtures: the real published files shipped in tests/data (tests/datafiles.py) and the
shipped samples.

TAGSYNC_NO_SKIPS=1 (set by .ci/run) turns any skipped test into a failed session: a machine
missing a tool or a data file must not pass quietly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from datafiles import data_file, data_root
from typer.testing import CliRunner

if TYPE_CHECKING:
    from netns import Topology

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
# The unpacked collection (TAGSYNC_SHARED_DATA=DIR overrides); shared_file() unpacks it.
SHARED_DATA = data_root()
SAMPLE_OLD = SAMPLES / "ServiceTags_Public_20250728.sample.json"
SAMPLE_NEW = SAMPLES / "ServiceTags_Public_20250804.sample.json"


def shared_file(relative: str) -> Path:
    """A real published file from tests/data; a missing one fails the test (it ships)."""
    try:
        return data_file(relative)
    except (OSError, RuntimeError) as error:
        pytest.fail(str(error))


def public(date: str) -> Path:
    return shared_file(f"servicetags/public/ServiceTags_Public_{date}.json")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("TAGSYNC_NO_SKIPS") or exitstatus != pytest.ExitCode.OK:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        # -ra already listed the reasons; say why a green run still fails.
        print(f"\nTAGSYNC_NO_SKIPS: {len(skipped)} test(s) skipped: failing the session")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
