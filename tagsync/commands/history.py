"""The `tagsync history` commands: what changed in one tag, accepted version by version
(`tagsync history TAG`, also spelled `history show TAG`), and `history import FILE...`.

`history` is a group whose default command is `show`: any first word that is not a
sub-command name (`show`, `import`) is a tag, so today's `tagsync history TAG` keeps working
and a tag literally named like a sub-command is still reachable as `history show NAME`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    LockTimeoutOption,
    OutputOption,
    StateDirOption,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.words import counted

if TYPE_CHECKING:
    from typer._click.core import Context  # Typer's vendored click: what TyperGroup takes

    from tagsync.history import TagHistory, TagVersion

FORMATS = ("text", "markdown", "json")


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _published(row: TagVersion) -> str:
    # Only a ServiceTags_<Cloud>_YYYYMMDD name gives Microsoft's date; say when it is a stand-in.
    return row.published if row.published_basis == "file-name" else f"{row.published} (accepted)"


def _summary(row: TagVersion) -> str:
    if row.first:
        state = "first kept version" if row.present else "first kept version, tag absent"
    elif not row.present and row.removed:
        state = f"tag removed, -{len(row.removed)}"
    elif not row.present:
        state = "tag absent"
    elif row.changed:
        state = f"+{len(row.added)} -{len(row.removed)}"
    else:
        state = "unchanged"
    return (
        f"changeNumber {row.change_number}, published {_published(row)}, "
        f"accepted {row.accepted_at}: {state} "
        f"(tag changeNumber {_number(row.tag_change_number)}, {row.prefix_count} prefixes)"
    )


def _text(history: TagHistory) -> str:
    lines = [
        f"{history.name} in {history.cloud}: {counted(len(history.versions), 'kept version')}, "
        "newest first"
    ]
    for row in history.versions:
        lines.append(_summary(row))
        lines.extend(f"  + {prefix}" for prefix in row.added)
        lines.extend(f"  - {prefix}" for prefix in row.removed)
    return "\n".join(lines) + "\n"


def _markdown(history: TagHistory) -> str:
    lines = [
        f"## `{history.name}` in {history.cloud}: {counted(len(history.versions), 'kept version')}",
        "",
        "| changeNumber | Accepted | Published | Tag changeNumber | Added | Removed | Prefixes |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in history.versions:
        added = "first kept" if row.first else str(len(row.added))
        lines.append(
            f"| {row.change_number} | {row.accepted_at} | {_published(row)} | "
            f"{_number(row.tag_change_number)} | "
            f"{added} | {'' if row.first else len(row.removed)} | {row.prefix_count} |"
        )
    lines.append("")
    for row in history.versions:
        if not row.changed:
            continue
        lines += [f"### changeNumber {row.change_number}", "", "```diff"]
        lines += [f"+ {prefix}" for prefix in row.added]
        lines += [f"- {prefix}" for prefix in row.removed]
        lines += ["```", ""]
    return "\n".join(lines)


def _json(histories: list[TagHistory]) -> str:
    """One tag: ``{cloud, tag, versions}``; several: ``{cloud, tags: [that, ...]}``."""
    import json

    documents = [
        {"cloud": h.cloud, "tag": h.name, "versions": [row.to_dict() for row in h.versions]}
        for h in histories
    ]
    if len(documents) == 1:
        return json.dumps(documents[0], indent=2) + "\n"
    return json.dumps({"cloud": histories[0].cloud, "tags": documents}, indent=2) + "\n"


class _DefaultShow(typer.core.TyperGroup):
    """A group that reads ``history WORD ...`` as ``history show WORD ...`` unless WORD is a
    sub-command (or --help), so the group adds ``import`` without breaking ``history TAG``."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        help_names = set(ctx.help_option_names)
        # No word at all: `show` with the watched tags.
        if not args or (args[0] not in self.commands and args[0] not in help_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultShow,
    subcommand_metavar="[TAG...] | show [TAG...] | import FILE...",
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="What changed in the watched tags (or the TAGs given), accepted version by version "
    "(`history [TAG...]`, the same as `history show [TAG...]`), and `history import FILE...` "
    "to back-fill the history from old published files.",
)


@handle_errors
def history(
    tags: Annotated[
        list[str] | None,
        typer.Argument(help="Tag names [default: the watched tags]", show_default=False),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, markdown or json", case_sensitive=False)
    ] = "text",
    output: OutputOption = None,
    cloud: CloudOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List, per kept accepted version, the changeNumbers and the prefixes added and removed.

    Every `tagsync update` that accepts a version records it in the state directory's history
    (config `history: {keep: N}`, default 52 versions); damaged entries are reported and skipped.
    """
    from tagsync.history import history_of, tag_history

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    session = open_session(config, cloud, state_dir)
    kept = history_of(session.store())
    results = [tag_history(kept, name) for name in (tags or session.config.tags)]
    for problem in dict.fromkeys(p for result in results for p in result.problems):
        note(f"warning: {problem}")
    if fmt == "json":
        write_output(_json(results), output)
        return
    render = _markdown if fmt == "markdown" else _text
    write_output("\n".join(render(result) for result in results), output)


@handle_errors
def history_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="Old published service tags JSON files, in any order"),
    ],
    cloud: CloudOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
    lock_timeout: LockTimeoutOption = 120.0,
) -> None:
    """Back-fill the history from old published files, so `history`, removal grace and flaps
    have past versions from the first day.

    Files are validated like `update --file` and ordered by publication: the date in a
    ServiceTags_<Cloud>_YYYYMMDD name, ties by top-level changeNumber, then sha256; a file
    without a dated name goes by its changeNumber. The same file twice is one version, and
    consecutive files with the same tags (only the top-level changeNumber differs) are one.
    Import only fills history: it never changes the accepted snapshot, and a file newer than
    the snapshot is left out (accept it with `tagsync update --file FILE`). `history: {keep: N}`
    applies. Importing the same files again changes nothing.

    Exit 0 when every file was imported or was already there; exit 3 when a file could not be
    read or validated (one line each on stderr, naming it; every other file is imported).
    """
    from tagsync.errors import DataError
    from tagsync.history.importing import import_files

    if lock_timeout < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--lock-timeout")
    session = open_session(config, cloud, state_dir)
    store = session.store()
    with store.locked(lock_timeout):
        outcome = import_files(
            store,
            files,
            keep=session.history_keep(),
            max_bytes=session.config.download.max_bytes,
        )
    for problem in outcome.problems:
        note(f"warning: {problem}")
    lines = [f"imported {line}" for line in outcome.imported]
    lines += [f"skipped {line}" for line in outcome.skipped]
    lines.append(
        f"{len(outcome.imported)} of {counted(len(files), 'file')} imported; "
        f"{counted(outcome.kept, 'version')} kept in {store.root / 'history'}"
    )
    write_output("\n".join(lines) + "\n", None)
    if outcome.failed:
        for line in outcome.failed[:-1]:
            note(f"error: {line}")
        count = len(outcome.failed)
        raise DataError(
            f"{outcome.failed[-1]} ({counted(count, 'file')} not imported; the others were)"
            if count > 1
            else f"{outcome.failed[0]} (not imported; the other files were)"
        )


app.command("show")(history)
app.command("import")(history_import)
