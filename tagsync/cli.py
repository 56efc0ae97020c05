"""The tagsync command line: the Typer app, its --version option, and the command registry.

Each command lives in its own module under ``tagsync.commands``. Heavy modules (requests,
deepdiff, jinja2, netaddr) are imported inside the command functions that need them, so
``tagsync --help`` costs little more than importing Typer. A run of one command (``tagsync
prefixes ...``) imports and builds only that command: Typer turns every registered function
into click options before it runs any, which cost ~50 ms of each start for 14 commands.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer

from tagsync import __version__
from tagsync.commands.common import default_paths_help

# Also `app`, the whole app, built on first access (module __getattr__ below).
__all__ = ["COMMAND_NAMES", "main", "make_app"]

# In the order `tagsync --help` lists them: reading the data first, then the scheduled jobs.
# name -> module under tagsync.commands; each module's function has the command's name, except
# `history`, a group (`history TAG`, its default command `show`, and `history import FILE...`).
_COMMANDS = {
    "fetch": "fetch",
    "tags": "tags",
    "prefixes": "prefixes",
    "diff": "diff",
    "update": "update",
    "render": "render",
    "feeds": "feeds",
    "formats": "formats",
    "profiles": "profiles",
    "doctor": "doctor",
    "check": "check",
    "lookup": "lookup",
    "status": "status",
    "history": "history",
}
COMMAND_NAMES = tuple(_COMMANDS)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tagsync {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show version and exit"
        ),
    ] = False,
) -> None:
    """Download, validate, diff and render Azure service tags (exit codes: see README)."""


def make_app(only: str | None = None) -> typer.Typer:
    """The app with every command, or with the one named ``only`` (same options and help)."""
    new = typer.Typer(
        name="tagsync",
        help="Keep firewall rules in step with Microsoft's Azure service tag IP ranges.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        # Plain click help and usage errors: Typer's rich formatter costs ~70 ms of imports at
        # every start, more than everything else in `tagsync --help`.
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        epilog=default_paths_help(),
    )
    new.callback()(_root)
    for name, module_name in _COMMANDS.items():
        if only is not None and name != only:
            continue
        module: Any = importlib.import_module(f"tagsync.commands.{module_name}")
        if name == "history":
            new.add_typer(module.app, name=name)
        else:
            new.command(name)(getattr(module, name))
    return new


_full: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    # `tagsync.cli.app`, the whole app (tests, embedding), is built on first use, so the
    # console script does not pay for building it before choosing one command.
    global _full
    if name == "app":
        if _full is None:
            _full = make_app()
        return _full
    raise AttributeError(f"module 'tagsync.cli' has no attribute {name!r}")


def main() -> None:
    """The console script: only the named command is built when one is named (completion,
    help and anything unexpected get the whole app)."""
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    if wanted in _COMMANDS and "_TAGSYNC_COMPLETE" not in os.environ:
        make_app(only=wanted)()
    else:
        __getattr__("app")()
