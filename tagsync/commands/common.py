"""Options and plumbing shared by every command: source selection, settings, error mapping."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from tagsync.errors import EXIT_USAGE, TagsyncError

if TYPE_CHECKING:
    from tagsync.clouds import Cloud
    from tagsync.config import Config
    from tagsync.store import Store
    from tagsync.sync import Loaded

P = ParamSpec("P")
R = TypeVar("R")

# --- Options every data-reading command takes --------------------------------------------------
CloudOption = Annotated[
    str | None,
    typer.Option("--cloud", help="public, usgov or china [default: from config, else public]"),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file [default: user config dir, if present]"),
]
StateDirOption = Annotated[
    Path | None, typer.Option("--state-dir", help="Where accepted snapshots are kept")
]
UrlOption = Annotated[str | None, typer.Option("--url", help="Download this JSON URL directly")]
FileOption = Annotated[
    Path | None, typer.Option("--file", "-f", help="Read a local service tags JSON file")
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
LockTimeoutOption = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait for another run's state lock")
]


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    typer.echo(f"tagsync: error: {message}", err=True)
    return typer.Exit(code)


def note(message: str) -> None:
    typer.echo(f"tagsync: {message}", err=True)


def handle_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Map TagsyncError to its one-line message and exit code: no tracebacks for bad input."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except TagsyncError as exc:
            raise fail(exc.message, exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            # `tagsync prefixes | head`: the reader left, which is not an error of ours.
            sys.stderr.close()
            raise typer.Exit(0) from None

    return wrapper


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

    def store(self) -> Store:
        from tagsync.store import Store

        # A bad `history:` section fails every command that uses the state dir, not only the
        # ones that record history: a typo surfaces on the first run, whatever it runs.
        self.history_keep()
        return Store(self.state_dir, self.cloud)

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
        return load_version(
            self.cloud, self.config.download, url=url, file=file, check_all_prefixes=check_all
        )


def open_session(
    config_path: Path | None,
    cloud: str | None = None,
    state_dir: Path | None = None,
    page_url: str | None = None,
) -> Session:
    from tagsync.clouds import get_cloud
    from tagsync.config import default_state_dir, load_config

    config = load_config(config_path, required=config_path is not None)
    if page_url is not None:
        config = replace(config, download=replace(config.download, page_url=page_url))
    return Session(
        config=config,
        cloud=get_cloud(cloud or config.cloud),
        state_dir=state_dir or config.state_dir or default_state_dir(),
    )


def write_output(text: str, output: Path | None) -> None:
    """Write to a file atomically, or to stdout when ``output`` is None or '-'."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from tagsync.atomic import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise fail(f"{output}: cannot write ({exc.strerror})", 3) from None
