"""The `tagsync formats` command: the format registry, as `render` and `check` see it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tagsync.commands.common import handle_errors, to_json, write_output

if TYPE_CHECKING:
    from tagsync.formats.base import Format

LIST_FORMATS = ("text", "json")


def _describe(fmt: Format) -> dict[str, Any]:
    return {
        "name": fmt.name,
        "summary": fmt.summary,
        "files": list(fmt.outputs),
        "incremental_files": list(fmt.incremental_outputs),
        "options": [f"render.{fmt.name}.{item.name}" for item in dataclasses.fields(fmt.options)]
        if fmt.builtin
        else [f"render.{fmt.name}.<key> (free-form, quoted by its templates)"],
        "needs": [f"render.{fmt.name}.{key}" for key in fmt.needs],
        # Formats whose needed settings follow the connectivity profile (`profile:`).
        "needs_by_profile": {
            profile: [f"render.{fmt.name}.{key}" for key in keys]
            for profile, keys in fmt.profile_needs.items()
        },
        "in_all": fmt.in_all,
        "builtin": fmt.builtin,
    }


def _text(entries: list[dict[str, Any]]) -> str:
    lines = []
    for entry in entries:
        mark = " (in all)" if entry["in_all"] else ""
        lines.append(f"{entry['name']}{mark}: {entry['summary']}")
        lines.append(f"  files: {', '.join(entry['files'])}")
        if entry["incremental_files"]:
            with_previous = ", ".join(entry["incremental_files"])
            lines.append(f"  with a previous version: {with_previous}")
        if entry["needs_by_profile"]:
            for profile, needed in entry["needs_by_profile"].items():
                lines.append(f"  needs with profile {profile}: {', '.join(needed)}")
        elif entry["needs"]:
            lines.append(f"  needs: {', '.join(entry['needs'])}")
        if entry["options"]:
            lines.append(f"  options: {', '.join(entry['options'])}")
    return "\n".join(lines) + "\n"


@handle_errors(session=False)
def formats(
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="Also list the formats added as DIR/NAME/*.j2"),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """List the output formats: files, needed settings, options, and which `all` includes."""
    from tagsync.errors import ConfigError
    from tagsync.formats.registry import BUILTIN, resolve_formats

    fmt = fmt.lower()
    if fmt not in LIST_FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(LIST_FORMATS)}", param_hint="--format")
    chosen = list(BUILTIN.values())
    if templates is not None:
        if not templates.is_dir():
            raise ConfigError(f"{templates}: templates directory not found")
        names = sorted(p.name for p in templates.iterdir() if p.is_dir() and p.name not in BUILTIN)
        chosen += [f for f in resolve_formats(names, templates) if not f.builtin]
    entries = [_describe(f) for f in chosen]
    text = to_json(entries) if fmt == "json" else _text(entries)
    write_output(text, None)
