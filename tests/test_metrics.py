"""`check --metrics-file`: read by the real node_exporter textfile collector on loopback.

The file is checked the way monitoring will see it: node_exporter (Debian's
prometheus-node-exporter) serves it from its textfile directory, and the scrape is parsed with
prometheus_client's reference parser. Expected counts come from the JSON and stdlib ipaddress.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD

EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
TAG = "AzureAdvancedThreatProtection"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A node_exporter reading only the textfile collector from a directory of the test's."""
    if EXPORTER is None:
        pytest.fail("prometheus-node-exporter is not installed (.ci/run installs it)")
    directory = tmp_path / "textfile"
    directory.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            EXPORTER,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={directory}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.05)
        yield directory, url
    finally:
        process.terminate()
        process.wait(timeout=10)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url, timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def check(state: Path, out: Path, metrics: Path, source: Path) -> int:
    command = [sys.executable, "-m", "tagsync", "check", "-q", "--state-dir", str(state)]
    command += ["--out", str(out), "--metrics-file", str(metrics), "-f", str(source)]
    return subprocess.run(command, capture_output=True, timeout=120).returncode


def expected_counts(path: Path) -> dict[str, tuple[int, int]]:
    document = json.loads(path.read_bytes())
    tag = next(v for v in document["values"] if v["name"] == TAG)
    networks = [ipaddress.ip_network(p) for p in tag["properties"]["addressPrefixes"]]
    result = {}
    for family, version in (("ipv4", 4), ("ipv6", 6)):
        chosen = [n for n in networks if n.version == version]
        merged = ipaddress.collapse_addresses(chosen)  # type: ignore[type-var]
        result[family] = (len(chosen), sum(n.num_addresses for n in merged))
    return result


def test_scraped_metrics_match_the_accepted_version(
    exporter: tuple[Path, str], tmp_path: Path
) -> None:
    directory, url = exporter
    metrics = directory / "tagsync.prom"
    state, out = tmp_path / "state", tmp_path / "out"
    assert check(state, out, metrics, SAMPLE_OLD) == 1
    assert check(state, out, metrics, SAMPLE_NEW) == 1
    samples = scrape(url)
    cloud = (("cloud", "public"),)
    assert samples[("node_textfile_scrape_error", ())] == 0
    assert samples[("tagsync_last_run_exit_code", cloud)] == 1
    change_number = json.loads(SAMPLE_NEW.read_bytes())["changeNumber"]
    assert samples[("tagsync_accepted_change_number", cloud)] == change_number
    finished = samples[("tagsync_last_run_timestamp_seconds", cloud)]
    assert abs(finished - time.time()) < 120
    assert samples[("tagsync_last_success_timestamp_seconds", cloud)] == finished
    for family, (prefixes, addresses) in expected_counts(SAMPLE_NEW).items():
        labels = (("cloud", "public"), ("family", family), ("tag", TAG))
        assert samples[("tagsync_tag_prefixes", labels)] == prefixes
        assert samples[("tagsync_tag_addresses", labels)] == addresses

    # A failed run still moves the run time and records its code; the last success stays.
    assert check(state, out, metrics, tmp_path / "missing.json") == 3
    after = scrape(url)
    assert after[("tagsync_last_run_exit_code", cloud)] == 3
    assert after[("tagsync_last_run_timestamp_seconds", cloud)] >= finished
    assert after[("tagsync_last_success_timestamp_seconds", cloud)] == finished
    assert after[("tagsync_accepted_change_number", cloud)] == change_number
    assert not [p for p in directory.iterdir() if p.name != "tagsync.prom"]  # no temp files
