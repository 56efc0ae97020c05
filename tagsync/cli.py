"""The tagsync command line: the Typer app, its --version option, and the command registry.

Each command lives in its own module under ``tagsync.commands``. Heavy modules (requests,
deepdiff, jinja2, netaddr) are imported inside the command functions that need them, so
``tagsync --help`` costs little more than importing Typer.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tagsync import __version__
from tagsync.commands import (
    check,
    diff,
    doctor,
    feeds,
    fetch,
    formats,
    history,
    lookup,
    prefixes,
    profiles,
    render,
    status,
    tags,
    update,
)
from tagsync.commands.common import default_paths_help

__all__ = ["app", "main"]

app = typer.Typer(
    name="tagsync",
    help="Keep firewall rules in step with Microsoft's Azure service tag IP ranges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: Typer's rich formatter costs ~70 ms of imports at every
    # start, more than everything else in `tagsync --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=default_paths_help(),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tagsync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show version and exit"
        ),
    ] = False,
) -> None:
    """Download, validate, diff and render Azure service tags (exit codes: see README)."""


# In the order `tagsync --help` lists them: reading the data first, then the scheduled jobs.
_COMMANDS = (
    ("fetch", fetch.fetch),
    ("tags", tags.tags),
    ("prefixes", prefixes.prefixes),
    ("diff", diff.diff),
    ("update", update.update),
    ("render", render.render),
    ("feeds", feeds.feeds),
    ("formats", formats.formats),
    ("profiles", profiles.profiles),
    ("doctor", doctor.doctor),
    ("check", check.check),
    ("lookup", lookup.lookup),
    ("status", status.status),
)
for _name, _command in _COMMANDS:
    app.command(_name)(_command)
# A group: `history TAG` (its default command, `show`) and `history import FILE...`.
app.add_typer(history.app, name="history")


def main() -> None:
    app()
