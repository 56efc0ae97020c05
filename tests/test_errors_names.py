"""Names through the real CLI: the tag names people use, unknown tags blamed on the name and
the version (or on the config file's ``tags:``), did-you-mean for tags and formats, and the
right ``--cloud`` for a file of another cloud."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD, public
from typer.testing import CliRunner

from tagsync.cli import app

TAG = "AzureAdvancedThreatProtection"


def expected_prefixes(path: Path, name: str) -> list[str]:
    """The tag's prefixes sorted numerically, computed with the stdlib from the raw JSON."""
    values = json.loads(path.read_bytes())["values"]
    raw = next(v for v in values if v["name"] == name)["properties"]["addressPrefixes"]
    networks = sorted(
        {ipaddress.ip_network(p) for p in raw},
        key=lambda n: (n.version, int(n.network_address), n.prefixlen),
    )
    return [str(n) for n in networks]


def one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tagsync: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("tagsync: error: ")


@pytest.fixture
def accepted(runner: CliRunner, state_dir: Path) -> Path:
    """A state dir whose accepted version is the newer sample (changeNumber from the file)."""
    result = runner.invoke(app, ["update", "-f", str(SAMPLE_NEW), "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.stderr
    return state_dir


def change_number(path: Path) -> int:
    return int(json.loads(path.read_bytes())["changeNumber"])


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("AzureATP", "a common name for it"),
        ("Azure ATP", "a common name for it"),
        ("ATP", "a common name for it"),
        ("MDI", "a common name for it"),
        ("Defender for Identity", "a common name for it"),
        ("Microsoft Defender for Identity", "a common name for it"),
        ("AATP", "its initials"),
        ("aatp", "its initials"),
        ("Azure Advanced Threat Protection", "another spelling of it"),
    ],
)
def test_names_people_use_select_the_tag_with_a_note(
    runner: CliRunner, accepted: Path, name: str, how: str
) -> None:
    result = runner.invoke(app, ["prefixes", name, "--state-dir", str(accepted)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW, TAG)
    assert result.stderr == f"tagsync: {name!r} taken as {TAG} ({how})\n"


def test_a_name_differing_only_in_case_needs_no_note(runner: CliRunner, accepted: Path) -> None:
    result = runner.invoke(app, ["prefixes", TAG.lower(), "--state-dir", str(accepted)])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW, TAG)


@pytest.mark.parametrize("name", ["MDE", "Defender for Endpoint", "Microsoft Defender ATP"])
def test_defender_for_endpoint_names(runner: CliRunner, state_dir: Path, name: str) -> None:
    path = public("20251006")
    result = runner.invoke(app, ["prefixes", name, "-f", str(path), "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected_prefixes(path, "MicrosoftDefenderForEndpoint")
    assert "taken as MicrosoftDefenderForEndpoint" in result.stderr


def test_unknown_tag_blames_the_name_and_the_accepted_version(
    runner: CliRunner, accepted: Path
) -> None:
    result = runner.invoke(
        app, ["prefixes", "AzureAdvancedThreatProtektion", "--state-dir", str(accepted)]
    )
    assert result.exit_code == 3
    assert one_error(result.stderr) == (
        "no tag named 'AzureAdvancedThreatProtektion' in the accepted version "
        f"{change_number(SAMPLE_NEW)} of public; did you mean {TAG}?"
    )


def test_unknown_tag_without_near_miss_points_at_the_list(runner: CliRunner) -> None:
    result = runner.invoke(app, ["prefixes", "Xyzzy", "-f", str(SAMPLE_NEW)])
    assert result.exit_code == 3
    assert one_error(result.stderr) == (
        f"no tag named 'Xyzzy' in {SAMPLE_NEW} (version {change_number(SAMPLE_NEW)} of public); "
        "`tagsync tags` lists the tag names"
    )


def test_alias_of_a_tag_this_file_lacks_says_what_it_stands_for(runner: CliRunner) -> None:
    result = runner.invoke(app, ["prefixes", "MDE", "-f", str(SAMPLE_NEW)])
    assert result.exit_code == 3
    assert one_error(result.stderr).startswith(
        f"no tag named 'MDE' (MicrosoftDefenderForEndpoint) in {SAMPLE_NEW}"
    )


def test_bad_tag_in_the_config_is_blamed_on_the_config(
    runner: CliRunner, accepted: Path, tmp_path: Path
) -> None:
    config = tmp_path / "tagsync.yaml"
    config.write_text("tags: [AzureActiveDirectory, AzureAdvancedThreatProtektion]\n")
    base = ["-c", str(config), "--state-dir", str(accepted)]
    result = runner.invoke(app, ["prefixes", *base])
    assert result.exit_code == 3
    assert one_error(result.stderr) == (
        f"{config}: tags: no tag named 'AzureAdvancedThreatProtektion' in the accepted version "
        f"{change_number(SAMPLE_NEW)} of public; did you mean {TAG}?"
    )
    # The unattended run says the same, before anything is rendered or accepted.
    out = tmp_path / "out"
    result = runner.invoke(app, ["check", "-f", str(SAMPLE_OLD), "--out", str(out), *base])
    assert result.exit_code == 3
    assert one_error(result.stderr).startswith(f"{config}: tags: no tag named")
    assert not out.exists()


def test_alias_in_the_config_is_quiet_unless_verbose(
    runner: CliRunner, accepted: Path, tmp_path: Path
) -> None:
    # Cron mails whatever a quiet run prints: a config alias is noted only with -v.
    config = tmp_path / "tagsync.yaml"
    config.write_text("tags: [MDI]\n")
    base = ["prefixes", "-c", str(config), "--state-dir", str(accepted)]
    result = runner.invoke(app, base)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW, TAG)
    result = runner.invoke(app, [*base, "-v"])
    assert f"'MDI' taken as {TAG} (a common name for it)" in result.stderr


@pytest.mark.parametrize(
    ("name", "meant"), [("nft", "nftables"), ("iptable", "iptables"), ("fortinet", "fortigate")]
)
def test_unknown_format_gets_a_did_you_mean(
    runner: CliRunner, tmp_path: Path, name: str, meant: str
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", name, "-f", str(SAMPLE_NEW), "--out", str(out)])
    assert result.exit_code == 2
    assert one_error(result.stderr).startswith(f"unknown format {name} (did you mean {meant}?)")
    assert not out.exists()


def test_file_of_another_cloud_names_the_right_cloud(runner: CliRunner, tmp_path: Path) -> None:
    document = json.loads(SAMPLE_NEW.read_bytes())
    document["cloud"] = "AzureGovernment"
    gov = tmp_path / "ServiceTags_AzureGovernment_20250804.json"
    gov.write_text(json.dumps(document))
    result = runner.invoke(app, ["prefixes", "-f", str(gov), "--cloud", "public"])
    assert result.exit_code == 3
    assert one_error(result.stderr) == (
        f"{gov}: file is for cloud 'AzureGovernment', expected 'Public'; for this file use "
        "--cloud usgov (or cloud: usgov in the config)"
    )
    result = runner.invoke(app, ["prefixes", "-f", str(gov), "--cloud", "usgov"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW, TAG)
