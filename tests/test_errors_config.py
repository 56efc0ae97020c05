"""Config and state errors through the real CLI: did-you-mean for unknown keys, every missing
secret named at once, and a damaged snapshot that says how to recover (and the recovery works)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, SAMPLE_OLD
from typer.testing import CliRunner

from tagsync.cli import app


def one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tagsync: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("tagsync: error: ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tag: [AzureCloud]\n", "unknown key 'tag' (did you mean tags?); known keys: alerts,"),
        (
            "tags: [AzureCloud]\nregoins: true\nstate-dir: /tmp\n",
            "unknown keys 'regoins' (did you mean regions?), 'state-dir' (did you mean "
            "state_dir?); known keys: alerts,",
        ),
        (
            "download:\n  retires: 2\n",
            "download: unknown key 'retires' (did you mean retries?); known keys: backoff, "
            "connect_timeout, max_bytes, page_url, read_timeout, retries, verify",
        ),
    ],
)
def test_unknown_config_keys_get_a_did_you_mean(
    runner: CliRunner, tmp_path: Path, text: str, problem: str
) -> None:
    config = tmp_path / "tagsync.yaml"
    config.write_text(text)
    result = runner.invoke(app, ["prefixes", "-f", str(SAMPLE_NEW), "-c", str(config)])
    assert result.exit_code == 2
    assert one_error(result.stderr).startswith(f"{config}: {problem}")


def test_unknown_format_in_the_config_gets_a_did_you_mean(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "tagsync.yaml"
    config.write_text("check:\n  formats: [iptables, nft]\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["check", "-f", str(SAMPLE_NEW), "-c", str(config), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "unknown format 'nft' (did you mean nftables?)" in one_error(result.stderr)
    assert not out.exists()


ALERTS = """\
alerts:
  - type: slack
    url_env: TAGSYNC_TEST_SLACK_URL
  - type: webhook
    url: https://hooks.example/x
    headers_env:
      Authorization: TAGSYNC_TEST_HOOK_AUTH
  - type: email
    host: smtp.example.com
    from: tagsync@example.com
    to: [netops@example.com]
    username: tagsync
    password_env: TAGSYNC_TEST_SMTP_PASSWORD
"""


def test_every_missing_secret_is_named_in_one_line(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSYNC_TEST_SLACK_URL", raising=False)
    monkeypatch.setenv("TAGSYNC_TEST_HOOK_AUTH", "")  # set but empty: just as useless
    monkeypatch.delenv("TAGSYNC_TEST_SMTP_PASSWORD", raising=False)
    config = tmp_path / "tagsync.yaml"
    config.write_text(ALERTS)
    state, out = tmp_path / "state", tmp_path / "out"
    result = runner.invoke(
        app,
        [
            *("check", "-f", str(SAMPLE_NEW), "-c", str(config)),
            *("--state-dir", str(state), "--out", str(out)),
        ],
    )
    assert result.exit_code == 2
    assert one_error(result.stderr) == (
        f"{config}: environment variables not set or empty: "
        "TAGSYNC_TEST_SLACK_URL (alerts[0].url_env), "
        "TAGSYNC_TEST_HOOK_AUTH (alerts[1].headers_env.Authorization), "
        "TAGSYNC_TEST_SMTP_PASSWORD (alerts[2].password_env)"
    )
    assert not out.exists() and not (state / "public" / "snapshot.json").exists()


def _accepted(runner: CliRunner, state: Path) -> tuple[Path, Path]:
    result = runner.invoke(app, ["update", "-f", str(SAMPLE_OLD), "--state-dir", str(state)])
    assert result.exit_code == 0, result.stderr
    meta_path = state / "public" / "snapshot.json"
    data_path = state / "public" / "data" / f"{json.loads(meta_path.read_text())['sha256']}.json"
    return meta_path, data_path


def _damage_data(meta: Path, data: Path) -> None:
    data.write_bytes(data.read_bytes()[:500])


def _damage_meta(meta: Path, data: Path) -> None:
    meta.write_text('{"cloud": "Public", "changeNu')


def _lose_data(meta: Path, data: Path) -> None:
    data.unlink()


@pytest.mark.parametrize("damage", [_damage_data, _damage_meta, _lose_data])
def test_damaged_snapshot_says_how_to_recover_and_that_works(
    runner: CliRunner, tmp_path: Path, damage: object
) -> None:
    state = tmp_path / "state"
    meta, data = _accepted(runner, state)
    assert callable(damage)
    damage(meta, data)
    for command in (["prefixes"], ["update", "-f", str(SAMPLE_NEW)]):
        result = runner.invoke(app, [*command, "--state-dir", str(state)])
        assert result.exit_code == 3, command
        assert one_error(result.stderr).endswith(
            f"; the accepted snapshot is damaged: to recover, delete {meta} and run "
            "`tagsync update`"
        )
    # Doing what it says brings the state dir back.
    meta.unlink()
    result = runner.invoke(app, ["update", "-f", str(SAMPLE_NEW), "--state-dir", str(state)])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["prefixes", "--state-dir", str(state)])
    assert result.exit_code == 0 and result.stdout
    assert json.loads(meta.read_text())["change_number"] == int(
        json.loads(SAMPLE_NEW.read_bytes())["changeNumber"]
    )
