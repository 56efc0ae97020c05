"""Options and plumbing shared by every command: source selection, settings, error mapping."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    ParamSpec,
    TypeVar,
)

import typer

# Re-exported: every command module takes its decorator and helpers from here.
from tagsync.commands.command import handle_errors as handle_errors
from tagsync.commands.command import note as note
from tagsync.commands.command import run_options

if TYPE_CHECKING:
    from tagsync.clouds import Cloud
    from tagsync.config import Config
    from tagsync.model import ServiceTags
    from tagsync.store import Store
    from tagsync.sync import Loaded

P = ParamSpec("P")
R = TypeVar("R")

# --- Options every data-reading command takes --------------------------------------------------
CloudOption = Annotated[
    str | None,
    typer.Option("--cloud", help="public, usgov or china [default: from config, else public]"),
]


def _shown(path: Path) -> str:
    """``path`` as --help shows it: under the home directory as ~/..."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def default_paths_help() -> str:
    """Where tagsync looks for its config and keeps its state, for --help texts."""
    from tagsync.config import default_config_path, default_state_dir

    return (
        f"Config file: {_shown(default_config_path())} (if present; or --config). "
        f"State: {_shown(default_state_dir())} (or state_dir: in the config, or --state-dir)."
    )


def _default_location(which: str) -> str:
    from tagsync.config import default_config_path, default_state_dir

    return _shown(default_config_path() if which == "config" else default_state_dir())


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=f"YAML config file [default: {_default_location('config')}, if present]",
    ),
]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where accepted snapshots are kept [default: state_dir: from the config, else "
        f"{_default_location('state')}]",
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Download this JSON URL directly (https://, http://, or file:///PATH for a local "
        "file)",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Read a local service tags JSON file ('-': standard input)"),
]
PageUrlOption = Annotated[
    str | None, typer.Option("--page-url", help="Download page to find the JSON link in")
]
DownloadFlag = Annotated[
    bool,
    typer.Option("--download", help="Download the current version even if a snapshot exists"),
]
TagsArgument = Annotated[
    list[str] | None, typer.Argument(help="Tag names [default: AzureAdvancedThreatProtection]")
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", help="Watched tag (repeatable) [default: from config]"),
]
RegionsFlag = Annotated[
    bool, typer.Option("--regions", help="Add all regional variants (TAG.Region) of each tag")
]
FormatOption = Annotated[
    str, typer.Option("--format", help="text, or json for scripts", case_sensitive=False)
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write it to this file instead of stdout")
]
TextChangesFlag = Annotated[
    bool,
    typer.Option(
        "--text-changes",
        help="Count prefix-text changes with no address gained or lost (re-aggregations) "
        "as changes too",
    ),
]
LockTimeoutOption = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait for another run's state lock")
]


@dataclass(frozen=True, slots=True)
class Session:
    """The effective settings of one command run: config file merged with CLI options."""

    config: Config
    cloud: Cloud
    state_dir: Path

    def history_keep(self) -> int:
        """How many accepted versions the history keeps (config ``history: {keep: N}``)."""
        from tagsync.history import keep_setting

        return keep_setting(self.config)

    def store(self, *, writable: bool = False) -> Store:
        """The state of the chosen cloud; ``writable``: fail now unless it can be written."""
        from tagsync.store import Store

        # A bad `history:` section fails every command that uses the state dir, not only the
        # ones that record history: a typo surfaces on the first run, whatever it runs.
        self.history_keep()
        if self.state_dir.exists() and not self.state_dir.is_dir():
            from tagsync.errors import LocalError

            raise LocalError(f"{self.state_dir}: the state directory is not a directory")
        store = Store(self.state_dir, self.cloud)
        if writable:
            from tagsync.preflight import writable_dir

            writable_dir(store.root, "state directory")
        return store

    def watched(self, service_tags: ServiceTags, given: Sequence[str] | None = None) -> list[str]:
        """The tag names a command works on: ``given`` on the command line, else the config's
        (or the profile's) watched tags, which the loaded cloud must publish."""
        if given:
            return list(given)
        if self.store().meta() is None:
            # No accepted version to compare with: a profile tag missing from the file means
            # the cloud does not publish it (mdi-v3 in China). With one, a missing tag may have
            # vanished since, which the comparison reports and the guards refuse.
            from tagsync.profiles import require_profile_tags

            require_profile_tags(service_tags, self.config, self.cloud.name)
        return list(self.config.tags)

    def load(
        self,
        *,
        url: str | None = None,
        file: Path | None = None,
        prefer_snapshot: bool = False,
        few_tags: bool = False,
    ) -> Loaded:
        """Get a validated version: --file, --url, the snapshot (if preferred) or a download."""
        from tagsync.sync import load_version

        if url is not None and file is not None:
            raise typer.BadParameter("give either --url or --file, not both")
        # few_tags: the command reads a handful of tags, so each is validated when first read
        # (anything reading every tag still validates the whole file; see model.TagTable).
        check_all = not few_tags
        if prefer_snapshot and url is None and file is None:
            snapshot = self.store().load_accepted(check_all_prefixes=check_all)
            if snapshot is not None:
                return snapshot
        from tagsync.errors import DownloadError

        try:
            return load_version(
                self.cloud, self.config.download, url=url, file=file, check_all_prefixes=check_all
            )
        except DownloadError as exc:
            if prefer_snapshot and url is None and file is None:
                raise DownloadError(
                    f"{exc.message}; no accepted version in {self.state_dir} yet: run "
                    "`tagsync update` once online (or with --file)"
                ) from None
            raise


def open_session(
    config_path: Path | None,
    cloud: str | None = None,
    state_dir: Path | None = None,
    page_url: str | None = None,
) -> Session:
    from tagsync.clouds import get_cloud
    from tagsync.config import default_state_dir, load_config
    from tagsync.profiles import apply_profile

    config = apply_profile(
        load_config(config_path, required=config_path is not None), run_options().profile
    )
    if page_url is not None:
        config = replace(config, download=replace(config.download, page_url=page_url))
    return Session(
        config=config,
        cloud=get_cloud(cloud or config.cloud),
        state_dir=state_dir or config.state_dir or default_state_dir(),
    )


def output_format(value: str, choices: Sequence[str] = ("text", "json")) -> str:
    """The --format value in lower case, or a usage error listing the choices."""
    chosen = value.lower()
    if chosen not in choices:
        raise typer.BadParameter(f"choose one of {', '.join(choices)}", param_hint="--format")
    return chosen


def to_json(document: object) -> str:
    """Machine output: indented, keys in a stable order, one trailing newline."""
    import json

    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def check_output(output: Path | None, what: str = "output file") -> None:
    """Fail before any download or write when ``output`` (None or '-': stdout) is unwritable."""
    if output is not None and str(output) != "-":
        from tagsync.preflight import writable_file

        writable_file(output, what)


def write_output(text: str | bytes, output: Path | None, what: str = "output file") -> None:
    """Write to a file atomically, or to stdout when ``output`` is None or '-'."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if output is None or str(output) == "-":
        # The bytes as they are (a raw file keeps its CRLF); a stdout without a byte layer
        # (a StringIO in tests or embedding code) gets text.
        binary = getattr(sys.stdout, "buffer", None)
        if binary is not None:
            sys.stdout.flush()
            binary.write(data)
            binary.flush()
        else:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
        return
    from tagsync.atomic import atomic_write_bytes
    from tagsync.errors import LocalError

    try:
        atomic_write_bytes(output, data)
    except OSError as exc:
        raise LocalError.from_os_error(exc, output, f"write the {what}") from None
