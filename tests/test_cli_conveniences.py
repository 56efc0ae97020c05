"""What users of git, gh and ruff expect of a CLI: -V, completion, -q/-v/--log-format and
--profile on every command, JSON output, --help without Python types and with the paths."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW
from typer.testing import CliRunner

from tagsync import __version__
from tagsync.cli import COMMAND_NAMES, app

COMMANDS = list(COMMAND_NAMES)
# Commands that read service tags (so take --profile); `formats` only lists formats.
SESSION_COMMANDS = [name for name in COMMANDS if name != "formats"]


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def sample_prefixes(name: str) -> list[str]:
    document = json.loads(SAMPLE_NEW.read_bytes())
    tag = next(v for v in document["values"] if v["name"] == name)
    return list(tag["properties"]["addressPrefixes"])


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(runner: CliRunner, flag: str) -> None:
    code, out, _ = run(runner, flag)
    assert code == 0
    assert out == f"tagsync {__version__}\n"


# Each shell loads the script `--show-completion` prints and completes "tagsync ch" to check:
# the real shells (CI installs zsh and fish), through the installed console script.
COMPLETE = {
    "bash": 'eval "$(tagsync --show-completion bash)"; COMP_WORDS=(tagsync ch); COMP_CWORD=1; '
    '_tagsync_completion tagsync; printf "%s\\n" "${COMPREPLY[@]}"',
    "zsh": 'autoload -Uz compinit; compinit -u; eval "$(tagsync --show-completion zsh)"; '
    "whence -w _tagsync_completion; "
    '_TAGSYNC_COMPLETE=complete_zsh _TYPER_COMPLETE_ARGS="tagsync ch" tagsync',
    "fish": 'tagsync --show-completion fish | source; complete -C "tagsync ch"',
}


@pytest.mark.parametrize("shell", sorted(COMPLETE))
def test_completion_scripts_load_and_complete(shell: str, tmp_path: Path) -> None:
    program = shutil.which(shell)
    assert program is not None, f"{shell} is not installed (.ci/run installs it)"
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "tagsync").exists() or shutil.which("tagsync"), "tagsync not installed"
    environment = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",
    }
    result = subprocess.run(
        [program, "-c", COMPLETE[shell]],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "check" in result.stdout, result.stdout
    assert "Traceback" not in result.stderr


# `history` is a group: its commands are `history show` and `history import`.
LEAVES = [c for c in COMMANDS if c != "history"] + ["history show", "history import"]


@pytest.mark.parametrize("command", LEAVES)
def test_every_command_takes_quiet_verbose_log_format(runner: CliRunner, command: str) -> None:
    code, out, _ = run(runner, *command.split(), "--help")
    assert code == 0
    for flag in ("-q, --quiet", "-v, --verbose", "--log-format"):
        assert flag in out, (command, flag)
    assert ("--profile" in out) == (command.split()[0] in SESSION_COMMANDS)
    # Values are named by what they are, never by a Python type like <list[str]> or <str>.
    assert not re.search(r"<(str|int|float|path|list\[[a-z]+\])>", out), out


def test_root_help_names_the_config_and_state_locations(runner: CliRunner) -> None:
    from tagsync.config import default_config_path, default_state_dir

    code, out, _ = run(runner, "--help")
    assert code == 0
    flat = " ".join(out.split())
    for path in (default_config_path(), default_state_dir()):
        shown = f"~/{path.relative_to(Path.home())}" if path.is_relative_to(Path.home()) else path
        assert str(shown) in flat


def test_quiet_hides_notes_verbose_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    code, _, err = run(runner, "update", "-f", str(SAMPLE_NEW), *state, "-q")
    assert code == 0
    assert err == ""
    code, _, err = run(runner, "update", "-f", str(SAMPLE_NEW), *state)
    assert code == 0
    assert "already the accepted snapshot" in err
    assert run(runner, "prefixes", *state, "-q", "-v")[0] == 2  # both: a usage error


def test_log_format_json_errors_are_json_lines(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(
        runner, "prefixes", "NoSuchTag", "-f", str(SAMPLE_NEW), "--log-format", "json"
    )
    assert code == 3
    lines = err.splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document["level"] == "error"
    assert document["exit_code"] == 3
    assert "NoSuchTag" in document["message"]


def test_tags_json_and_header(runner: CliRunner) -> None:
    code, out, _ = run(runner, "tags", "threat", "-f", str(SAMPLE_NEW), "--format", "json")
    assert code == 0
    document = json.loads(out)
    raw = sample_prefixes("AzureAdvancedThreatProtection")
    v4 = sum(1 for p in raw if ipaddress.ip_network(p).version == 4)
    assert [t["name"] for t in document["tags"]] == ["AzureAdvancedThreatProtection"]
    assert document["tags"][0]["ipv4_prefixes"] == v4
    assert document["tags"][0]["ipv6_prefixes"] == len(raw) - v4
    code, out, _ = run(runner, "tags", "threat", "-f", str(SAMPLE_NEW))
    assert out.splitlines()[0].split("\t") == ["TAG", "IPV4", "IPV6"]


def test_prefixes_json(runner: CliRunner) -> None:
    code, out, _ = run(runner, "prefixes", "-f", str(SAMPLE_NEW), "--format", "json")
    assert code == 0
    document = json.loads(out)
    networks = [ipaddress.ip_network(p) for p in sample_prefixes("AzureAdvancedThreatProtection")]
    ordered = sorted(networks, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    assert document["ipv4"] == [str(n) for n in ordered if n.version == 4]
    assert document["ipv6"] == [str(n) for n in ordered if n.version == 6]
    assert document["tags"] == ["AzureAdvancedThreatProtection"]
    assert run(runner, "prefixes", "-f", str(SAMPLE_NEW), "--format", "yaml")[0] == 2


def test_render_help_names_every_builtin_format(runner: CliRunner) -> None:
    from tagsync.formats.registry import BUILTIN

    code, out, _ = run(runner, "render", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert all(name in flat for name in BUILTIN), out


def test_output_options_name_a_file(runner: CliRunner) -> None:
    for command in ("fetch", "diff", "status", "history"):
        code, out, _ = (
            run(runner, command, "--help")
            if command != "history"
            else run(runner, "history", "show", "--help")
        )
        assert code == 0
        assert re.search(r"-o, --output FILE", out), (command, out)


def test_the_console_script_builds_only_the_command_it_runs() -> None:
    # main() builds one command when one is named; the result is the same command.
    from tagsync.cli import make_app

    single = typer_main(make_app(only="prefixes"))
    full = typer_main(app)
    assert list(single.commands) == ["prefixes"]  # type: ignore[attr-defined]
    assert [p.name for p in single.commands["prefixes"].params] == [  # type: ignore[attr-defined]
        p.name
        for p in full.commands["prefixes"].params  # type: ignore[attr-defined]
    ]


def typer_main(application: object) -> object:
    import typer.main

    return typer.main.get_command(application)  # type: ignore[arg-type]
