"""README.md's fenced blocks, run as a newcomer pastes them, in the order they appear.

* ``console`` blocks are transcripts: each ``$ command`` line (``\\`` continues it) runs in bash
  and what it prints (stdout and stderr together, as a terminal shows them) must equal the lines
  below it, exactly. One bash per block, so ``echo $?`` sees the command before it.
* ``sh`` blocks run in bash and must exit 0.
* ``yaml`` blocks are configs: loaded with ``tagsync.config.load_config`` and every section
  validated by its owner (render, alerts with dummy values for the variables named by ``*_env``,
  history, check, the profile), so a misspelled documented key fails here.
* ``text`` blocks (synopses, directory trees) are not run and must hold no ``$`` prompt.
* A block right after ``<!-- readme-test: skip: REASON -->`` is not run (a real download, the
  whole test suite, a system directory); the test lists them and caps their number.

Every block runs in one fresh HOME shared in README order (the set-up's demo state is what the
later blocks read), with the XDG_* variables unset, cwd the repository, PATH starting with the
directory of the installed ``tagsync``, and HTTP(S)_PROXY pointing at a closed local port so an
attempted download fails instead of reaching the network. PYTHONUNBUFFERED=1 makes stdout and
stderr interleave in a pipe as they do on a terminal.

The only edits to the README's text: install steps are stripped from a command (``python3 -m
venv``, ``. .venv/bin/activate``, ``pip install ...``, ``pipx install ...``, joined by ``&&``);
the tagsync being tested is already installed. The only normalisations of compared output: the
temporary HOME is shown as ``~``, and ISO 8601 time stamps (``2026-01-05T06:00:02+00:00``, the
time a version was accepted or checked) compare equal to any other time stamp.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagsync import config as config_module
from tagsync.alerts import config as alerts_config
from tagsync.config import Config, DownloadSettings, default_output_dir, default_state_dir
from tagsync.errors import ConfigError
from tagsync.formats.registry import BUILTIN, site_neutral
from tagsync.formats.settings import render_settings
from tagsync.grace import grace_setting
from tagsync.history.retention import DEFAULT_KEEP, keep_setting
from tagsync.profiles import apply_profile
from tagsync.runner import check_formats

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip:\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")
MAX_SKIPPED = 6  # blocks that cannot run here; keep it small (each names its reason)
INSTALL = re.compile(
    r"^(python3? -m venv \S+|\. \S*\.venv/bin/activate|(python3? -m )?pip install .*"
    r"|pipx install .*)$"
)
TIMESTAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)")
MARK = "\0"


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, text, the README line it starts on, any skip reason."""

    lang: str
    text: str
    line: int
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.lang or 'plain'}@{self.line}"


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        skip = SKIP.match(before.strip())
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        body = "\n".join(lines[index + 1 : end])
        blocks.append(Block(opened.group(1), body + "\n", index + 1, skip and skip.group(1)))
        index = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def strip_install(command: str) -> str:
    """The command without its install steps (the only edit made to README commands)."""
    steps = command.split(" && ")
    kept = [step for step in steps if not INSTALL.match(step.strip())]
    return " && ".join(kept)


def transcript(block: Block) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    pairs: list[tuple[str, list[str]]] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and index + 1 < len(lines):
                index += 1
                command = command[:-1] + "\n" + lines[index]
            pairs.append((command, []))
        else:
            assert pairs, f"README line {block.line + 1}: console output before any $ command"
            pairs[-1][1].append(line)
        index += 1
    return [(command, "".join(f"{out}\n" for out in output)) for command, output in pairs]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "TAGSYNC_"))}
    for name in ("NO_PROXY", "no_proxy", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"):
        env.pop(name, None)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens, a download fails at once
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        HTTPS_PROXY=closed,
        HTTP_PROXY=closed,
        https_proxy=closed,
        http_proxy=closed,
        PYTHONUNBUFFERED="1",
        LC_ALL="C.UTF-8",
        TERM="dumb",
    )
    return env


def normalise(text: str, home: Path) -> str:
    return TIMESTAMP.sub("<time>", text.replace(str(home), "~"))


@dataclass
class Outcome:
    """What running one block gave: per command (command, expected, actual) or a return code."""

    compared: list[tuple[str, str, str]]
    returncode: int
    output: str


def run_console(block: Block, home: Path) -> Outcome:
    pairs = transcript(block)
    script = ["exec 2>&1"]
    for command, _ in pairs:
        script += [strip_install(command), "__rc=$?; printf '\\0'; (exit $__rc)"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    outputs = done.stdout.split(MARK)
    compared = [
        (command, normalise(expected, home), normalise(actual, home))
        for (command, expected), actual in zip(pairs, outputs, strict=False)
    ]
    return Outcome(compared, done.returncode, done.stdout)


def run_sh(block: Block, home: Path) -> Outcome:
    script = "\n".join(strip_install(line) for line in block.text.splitlines())
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return Outcome([], done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every runnable block, run once in README order in one fresh HOME."""
    home = tmp_path_factory.mktemp("home")
    results: dict[str, Outcome] = {}
    for block in BLOCKS:
        if block.skip is None and block.lang == "console":
            results[block.id] = run_console(block, home)
        elif block.skip is None and block.lang == "sh":
            results[block.id] = run_sh(block, home)
    return results


def _ids(lang: str) -> list[Any]:
    return [pytest.param(b, id=b.id) for b in BLOCKS if b.lang == lang and b.skip is None]


@pytest.mark.parametrize("block", _ids("console"))
def test_console_block_prints_what_it_says(block: Block, ran: dict[str, Outcome]) -> None:
    outcome = ran[block.id]
    assert len(outcome.compared) == len(transcript(block)), outcome.output
    for command, expected, actual in outcome.compared:
        assert actual == expected, f"README line {block.line}: $ {command}"


def test_sh_blocks_exit_0(ran: dict[str, Outcome]) -> None:
    # One test for all (not parametrized): every sh block may be skipped, and an empty
    # parameter set would be a skip, which CI counts as a failure.
    for block in BLOCKS:
        if block.lang == "sh" and block.skip is None:
            outcome = ran[block.id]
            assert outcome.returncode == 0, f"README line {block.line}:\n{outcome.output}"


def _dummy_secrets(section: Any) -> Iterator[str]:
    """Every environment variable a ``*_env`` key names, anywhere in ``section``."""
    items = section if isinstance(section, list) else [section]
    for item in items:
        for key, value in item.items() if isinstance(item, dict) else ():
            if str(key).endswith("_env"):
                yield from [value] if isinstance(value, str) else dict(value).values()
            else:
                yield from _dummy_secrets(value)


def validate_config(text: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Load a documented config and validate every section through its owner; returns the
    Config after the profile is applied."""

    path = directory / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = apply_profile(config_module.load_config(path, required=True))

    def refuse_deprecated(message: str) -> None:
        raise AssertionError(f"the README documents a deprecated key: {message}")

    render_settings(config.section("render"), warn=refuse_deprecated)
    alerts = config.section("alerts")
    for variable in _dummy_secrets(alerts):
        value = "https://hooks.example.invalid/x" if "URL" in variable else "dummy-value"
        monkeypatch.setenv(variable, value)
    alerts_config.load_channels(alerts, str(path))
    keep_setting(config)
    grace_setting(config)
    check_formats(config)
    return config


@pytest.mark.parametrize("block", _ids("yaml"))
def test_yaml_block_is_a_valid_config(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate_config(block.text, tmp_path, monkeypatch)
    # Commented-out keys (`# key: value` lines) are examples too: they must load as well.
    validate_config(uncommented(block.text), tmp_path, monkeypatch)


COMMENTED_KEY = re.compile(r"^(\s*)# ((?:- )?[A-Za-z_][\w-]*: .*|(?:- )?[A-Za-z_][\w-]*:)$")


def uncommented(text: str) -> str:
    """``text`` with its commented-out keys (whole lines ``# key: value``) made live."""
    return "".join(COMMENTED_KEY.sub(r"\1\2", line) + "\n" for line in text.splitlines())


def test_text_blocks_hold_no_transcript() -> None:
    """A block with `$ command` lines is a transcript: it must be `console`, so it is run."""
    for block in BLOCKS:
        if block.lang != "console" and block.skip is None:
            prompts = [ln for ln in block.text.splitlines() if ln.startswith("$ ")]
            assert not prompts, f"README line {block.line}: {block.lang or 'plain'} block with $"


def test_every_block_has_a_known_kind() -> None:
    known = {"console", "sh", "yaml", "text"}
    unknown = [b.id for b in BLOCKS if b.lang not in known and b.skip is None]
    assert not unknown, f"give these blocks a kind ({', '.join(sorted(known))}) or a skip reason"


def test_skipped_blocks_are_few_and_say_why() -> None:
    skipped = [f"{b.id}: {b.skip}" for b in BLOCKS if b.skip is not None]
    print("README blocks not run:\n  " + "\n  ".join(skipped))
    assert len(skipped) <= MAX_SKIPPED, skipped
    ran = [b for b in BLOCKS if b.skip is None and b.lang in ("console", "sh", "yaml")]
    assert len(ran) >= 10


def section_blocks(title: str, lang: str) -> list[Block]:
    """The ``lang`` blocks under the README heading that starts with ``title``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"## {title}"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [b for b in BLOCKS if b.lang == lang and start < b.line <= end]


def _keys(mapping: Any) -> set[str]:
    assert isinstance(mapping, dict), mapping
    return set(map(str, mapping))


def _reference(first_key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Configuration section's block starting with ``first_key``: (live, with the
    commented-out keys made live)."""
    [block] = [
        b for b in section_blocks("Configuration", "yaml") if b.text.startswith(f"{first_key}:")
    ]
    return yaml.safe_load(block.text), yaml.safe_load(uncommented(block.text))


def _known_history_keys() -> set[str]:
    """The keys history accepts, as its own error message lists them."""

    with pytest.raises(ConfigError) as refused:
        keep_setting(Config(sections={"history": {"no-such-key": 1}}))
    return set(str(refused.value).rpartition("known: ")[2].split(", "))


def test_configuration_lists_every_key_with_its_default(tmp_path: Path) -> None:
    """Every key the loader accepts (core keys, every section, every format option) is in the
    Configuration section; a live key has exactly the default the code uses, and a key shown
    commented out is one that is unset by default (or taken from the top-level profile)."""

    live, full = _reference("cloud")
    accepted = config_module._CORE_KEYS | config_module._OWNED_SECTIONS
    assert _keys(full) == accepted
    assert _keys(full["download"]) == {f.name for f in dataclasses.fields(DownloadSettings)}
    assert _keys(full["guards"]) == {"max_removal_ratio"}
    assert _keys(full["history"]) == _known_history_keys()
    assert _keys(full["check"]) == {"formats"}  # the only key runner.check_formats reads
    assert _keys(full["render"]) == set(BUILTIN)
    for name, fmt in BUILTIN.items():
        fields = {f.name for f in dataclasses.fields(fmt.options)}
        assert _keys(full["render"][name]) == fields, f"render.{name}"

    # Live keys: exactly the defaults (loaded as tagsync loads them).
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(live), encoding="utf-8")
    config = config_module.load_config(path, required=True)
    assert config.state_dir == default_state_dir()
    assert config.output_dir == default_output_dir()
    plain = dataclasses.replace(config, path=None, sections={}, state_dir=None, output_dir=None)
    assert plain == Config()
    assert keep_setting(config) == DEFAULT_KEEP
    assert grace_setting(config) is None
    assert check_formats(config) == site_neutral()
    assert live["alerts"] == []
    settings = render_settings(live["render"])
    for name, fmt in BUILTIN.items():
        assert settings.of(name, fmt.options) == fmt.options(), f"render.{name}"

    # Commented-out keys: unset by default, or inherited from the top level.
    inherited = {"tags", "formats", "profile", "workspace", "usgov_offering"}
    for key in _keys(full) - _keys(live):
        assert key in inherited or getattr(Config(), key) is None, key
    for key in _keys(full["download"]) - _keys(live["download"]):
        assert getattr(DownloadSettings(), key) is None, f"download.{key}"
    for name, fmt in BUILTIN.items():
        for key in _keys(full["render"][name]) - _keys(live["render"][name]):
            default = getattr(fmt.options(), key)
            assert key in inherited or default in (None, ()), f"render.{name}.{key}"


def test_alert_channels_list_every_key_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:

    live, full = _reference("alerts")
    kinds = {entry["type"]: entry for entry in full["alerts"]}
    assert set(kinds) == set(alerts_config.CHANNEL_TYPES)
    either = {"url", "url_env"}  # exactly one of them is given
    for kind, (allowed, _) in alerts_config.CHANNEL_TYPES.items():
        shown = _keys(kinds[kind])
        assert allowed - either <= shown, kind
        assert not allowed & either or shown & either, kind
    common = set().union(*(_keys(entry) for entry in full["alerts"]))
    assert alerts_config._COMMON - {"name"} <= common

    for variable in _dummy_secrets(live["alerts"]):
        monkeypatch.setenv(variable, "https://hooks.example.invalid/x")
    built = alerts_config.load_channels(live["alerts"])
    minimal = alerts_config.load_channels(
        [{"type": entry["type"], **{k: entry[k] for k in entry if k in REQUIRED}}
         for entry in live["alerts"]]
    )  # fmt: skip
    for channel, default in zip(built, minimal, strict=True):
        # Every channel class keeps its ChannelSettings as .settings (not in the Protocol).
        for attribute in ("settings", "port", "security", "subject_prefix"):
            assert getattr(channel, attribute, None) == getattr(default, attribute, None)


# What a channel cannot do without; everything else has a default.
REQUIRED = {"url", "url_env", "host", "from", "to"}


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    return text[start : text.find("\n## ", start + 4)]


def test_command_synopses_name_every_command_and_option() -> None:
    """Every command of `tagsync --help` (and of `history`) has a `tagsync NAME` synopsis line
    in the Commands section, and each of its long options is named there."""
    import typer.main

    from tagsync.cli import app

    section = _section("Commands")

    def leaves(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):  # a group (typer's own click, or click)
            for name, sub in command.commands.items():
                yield from leaves(sub, f"{path} {name}".strip())
        else:
            yield path, command

    for path, command in leaves(typer.main.get_command(app), ""):
        spelled = path.replace("history show", "history [show]")
        assert re.search(rf"^tagsync {re.escape(spelled)}(?=\s)", section, re.M), path
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--") and option != "--help":
                    assert option in section, f"{path} {option}"


def test_exit_code_table_lists_every_code() -> None:
    from tagsync import errors

    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    table = set(map(int, re.findall(r"^\| (\d+) \|", _section("Exit codes"), re.M)))
    assert table == codes
