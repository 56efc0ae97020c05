"""The shipped crontab line, example config and systemd unit, run for real on the sample files.

The only edit to each command is `--file SAMPLE`, so nothing is downloaded. PYTHONPATH points
the installed `tagsync` at this checkout.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_NEW, SAMPLE_OLD, SAMPLES
from pytest_httpserver import HTTPServer
from test_samples_ci import SERVICE, _cron_job, _directives, installed_tagsync, uncommented_alerts

ATP = "AzureAdvancedThreatProtection"
SWAPPED_IN = "13.87.32.4/32"  # the only prefix AzureAdvancedThreatProtection gains in SAMPLE_NEW


Ran = subprocess.CompletedProcess[str]


class CronUser:
    """A user with tagsync in ~/.local/bin (where pipx puts it) and the example config at the
    default location, running the crontab's job line as cron does: /bin/sh, a bare PATH."""

    def __init__(self, home: Path) -> None:
        self.home = home
        (home / ".local" / "bin").mkdir(parents=True)
        (home / ".local" / "bin" / "tagsync").symlink_to(installed_tagsync())
        self.config = home / ".config" / "tagsync" / "config.yaml"
        self.config.parent.mkdir(parents=True)
        shutil.copy(SAMPLES / "config.example.yaml", self.config)

    def run(
        self, source: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cron_env = {
            "HOME": str(self.home),
            "LOGNAME": "tagsync",
            "SHELL": "/bin/sh",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        command = f"{_cron_job().split(None, 5)[5]} --file {shlex.quote(str(source))}"
        return subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=self.home, env=cron_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


def test_crontab_job_with_the_example_config_and_no_secrets_file(tmp_path: Path) -> None:
    user = CronUser(tmp_path / "home")
    first = user.run(SAMPLE_OLD)
    assert first.returncode == 1, first.stderr  # first run: every prefix is new
    state = user.home / ".local" / "state" / "tagsync"
    out = user.home / ".local" / "share" / "tagsync" / "out"
    assert (state / "public" / "snapshot.json").is_file()
    assert (out / "iptables" / "ipset.restore").is_file()
    assert "Traceback" not in first.stderr

    second = user.run(SAMPLE_NEW)
    assert second.returncode == 1, second.stderr
    assert SWAPPED_IN in second.stdout + second.stderr  # cron mails both
    snapshot = json.loads((state / "public" / "snapshot.json").read_text())
    assert snapshot["change_number"] == json.loads(SAMPLE_NEW.read_bytes())["changeNumber"]

    again = user.run(SAMPLE_NEW)
    assert again.returncode == 0, again.stderr
    # Nothing lands outside the XDG directories and the config.
    top = sorted(p.relative_to(user.home).as_posix() for p in user.home.glob(".*/*"))
    assert top == [".config/tagsync", ".local/bin", ".local/share", ".local/state"]


def test_crontab_job_reads_the_secrets_file_for_the_alerts(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    user = CronUser(tmp_path / "home")
    # Only the Slack channel of the example, switched on: the others would reach the internet.
    text = uncommented_alerts(user.config.read_text())
    head, _, alerts = text.partition("\nalerts:\n")
    slack = alerts[alerts.index("  # Slack") : alerts.index("  # Microsoft Teams")]
    user.config.write_text(f"{head}\nalerts:\n{slack}")
    secrets = user.config.parent / "secrets.env"
    secrets.write_text(f"TAGSYNC_SLACK_URL={httpserver.url_for('/slack/hook')}\n")
    secrets.chmod(0o600)
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")

    assert user.run(SAMPLE_OLD).returncode == 1
    changed = user.run(SAMPLE_NEW)
    assert changed.returncode == 1, changed.stderr
    bodies = [request.get_data(as_text=True) for request, _ in httpserver.log]
    assert len(bodies) == 2 and SWAPPED_IN in bodies[1] and ATP in bodies[1]

    secrets.unlink()  # the configured channel now has no URL: a usage error, not a silent run
    missing = user.run(SAMPLE_NEW)
    assert missing.returncode == 2 and "TAGSYNC_SLACK_URL" in missing.stderr


def test_systemd_service_command_runs_with_only_its_state_directory_writable(
    tmp_path: Path,
) -> None:
    """ExecStart= under what ProtectSystem=strict, StateDirectory=, PrivateTmp= and the empty
    CapabilityBoundingSet= leave: a read-only root file system (a private mount namespace)
    with only the state directory bound writable, an empty tmpfs as the private temporary
    directory (/var/tmp here, as /tmp holds the test's files), no capabilities, HOME=/ (as
    for DynamicUser=)."""
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root")
    service = _directives(SERVICE.read_text())
    (state_name,) = service["StateDirectory"]
    state = tmp_path / "var-lib" / state_name
    state.mkdir(parents=True)
    config = tmp_path / "config.yaml"
    shutil.copy(SAMPLES / "config.example.yaml", config)
    argv = shlex.split(service["ExecStart"][0])
    argv[0] = installed_tagsync()
    argv = [
        a.replace(f"/var/lib/{state_name}", str(state)).replace(
            "/etc/tagsync/config.yaml", str(config)
        )
        for a in argv
    ]
    inner = shlex.join(
        [
            *("setpriv", "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"),
            *("env", "-i", "HOME=/", "PATH=/usr/bin:/bin", f"PYTHONPATH={REPO}", "TMPDIR=/var/tmp"),
            *(*argv, "--file", str(SAMPLE_NEW)),
        ]
    )
    script = (
        f"mount --make-rprivate / && mount --bind {shlex.quote(str(state))} "
        f"{shlex.quote(str(state))} && mount -o remount,bind,ro / && "
        f"mount -t tmpfs -o mode=1777 tmpfs /var/tmp && cd / && exec {inner}"
    )
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr  # first run: changed, the unit's success status
    assert "Traceback" not in run.stderr
    assert (state / "state" / "public" / "snapshot.json").is_file()
    assert (state / "out" / "nftables" / "tagsync.nft").is_file()
