"""The `tagsync history` command: what changed in one tag, accepted version by version."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    StateDirOption,
    handle_errors,
    note,
    open_session,
    write_output,
)

if TYPE_CHECKING:
    from tagsync.history import TagHistory, TagVersion

FORMATS = ("text", "markdown", "json")


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


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
        f"changeNumber {row.change_number}, accepted {row.accepted_at}: {state} "
        f"(tag changeNumber {_number(row.tag_change_number)}, {row.prefix_count} prefixes)"
    )


def _text(history: TagHistory) -> str:
    lines = [
        f"{history.name} in {history.cloud}: {len(history.versions)} kept version(s), newest first"
    ]
    for row in history.versions:
        lines.append(_summary(row))
        lines.extend(f"  + {prefix}" for prefix in row.added)
        lines.extend(f"  - {prefix}" for prefix in row.removed)
    return "\n".join(lines) + "\n"


def _markdown(history: TagHistory) -> str:
    lines = [
        f"## `{history.name}` in {history.cloud}: {len(history.versions)} kept version(s)",
        "",
        "| changeNumber | Accepted | Tag changeNumber | Added | Removed | Prefixes |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in history.versions:
        added = "first kept" if row.first else str(len(row.added))
        lines.append(
            f"| {row.change_number} | {row.accepted_at} | {_number(row.tag_change_number)} | "
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


def _json(history: TagHistory) -> str:
    import json

    document = {
        "cloud": history.cloud,
        "tag": history.name,
        "versions": [row.to_dict() for row in history.versions],
    }
    return json.dumps(document, indent=2) + "\n"


@handle_errors
def history(
    tag: Annotated[str, typer.Argument(help="Tag name (case-insensitive)", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", help="text, markdown or json", case_sensitive=False)
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here")
    ] = None,
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
    result = tag_history(history_of(session.store()), tag)
    for problem in result.problems:
        note(f"warning: {problem}")
    render = {"text": _text, "markdown": _markdown, "json": _json}[fmt]
    write_output(render(result), output)
