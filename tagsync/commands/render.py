"""The `tagsync render` command: firewall configs for the watched tags from Jinja templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    DownloadFlag,
    FileOption,
    PageUrlOption,
    RegionsFlag,
    StateDirOption,
    TagOption,
    UrlOption,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.words import counted

if TYPE_CHECKING:
    from tagsync.commands.common import Session
    from tagsync.diff import ChangeSet
    from tagsync.grace import Holds
    from tagsync.model import ServiceTags
    from tagsync.store import Loaded

FormatsArgument = Annotated[
    list[str],
    typer.Argument(
        # Spelled out rather than read from the registry, which costs ~0.2 s to import at
        # every start; tests/test_cli_conveniences.py checks it names every built-in format.
        help="iptables, nftables, paloalto, windows, fortigate, ciscoasa, junipersrx, "
        "expressroute, mdi-sensor, proxy, or a format added as --templates DIR/NAME/*.j2 "
        "(all: every format that needs no site-specific settings; `tagsync formats` lists them)",
        show_default=False,
    ),
]
OutOption = Annotated[
    str | None,
    typer.Option("--out", "-o", help="Output directory, or - for stdout [default: from config]"),
]
TemplatesOption = Annotated[
    Path | None,
    typer.Option(
        "--templates",
        help="Directory of templates overriding the shipped ones by path, and adding formats "
        "(DIR/NAME/*.j2 renders format NAME)",
    ),
]
AllowEmptyFlag = Annotated[
    bool, typer.Option("--allow-empty", help="Render even when a tag has no prefixes")
]
AgainstOption = Annotated[
    Path | None,
    typer.Option("--against", help="Previous version for incremental outputs (PAN-OS commands)"),
]


@handle_errors
def render(
    formats: FormatsArgument,
    out: OutOption = None,
    tag: TagOption = None,
    regions: RegionsFlag = False,
    templates: TemplatesOption = None,
    allow_empty: AllowEmptyFlag = False,
    against: AgainstOption = None,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Render firewall configs (rules, address objects, scripts) for the watched tags."""
    from tagsync.config import default_output_dir
    from tagsync.diff import diff_service_tags
    from tagsync.formats.registry import resolve_formats
    from tagsync.render import render_formats, render_settings, write_rendered

    if templates is not None and not templates.is_dir():
        from tagsync.errors import ConfigError

        raise ConfigError(f"{templates}: templates directory not found")
    # "all" means the formats that need no site config; an unknown format fails before any
    # data is loaded.
    chosen = resolve_formats([f.lower() for f in formats], templates)
    wanted = [fmt.name for fmt in chosen]
    session = open_session(config, cloud, state_dir, page_url)
    user_formats = [fmt.name for fmt in chosen if not fmt.builtin]
    settings = render_settings(session.config.section("render"), user_formats)
    from_snapshot = not (download or url or file)
    loaded = session.load(url=url, file=file, prefer_snapshot=from_snapshot, few_tags=True)
    new = loaded.service_tags
    names = session.watched(new, tag)
    use_regions = regions or session.config.regions

    changes: ChangeSet | None = None
    if any(fmt.uses_previous for fmt in chosen):
        old = _previous(session, against, from_snapshot)
        if old is not None:
            from tagsync.tagnames import resolve_tags

            selected = [t.name for t in resolve_tags(new, names, regions=use_regions)]
            changes = diff_service_tags(old, new, selected)
    holds = _holds(session, loaded, names, use_regions)
    files = render_formats(
        new,
        names,
        wanted,
        settings=settings,
        changes=changes,
        templates_dir=templates,
        allow_empty=allow_empty,
        regions=use_regions,
        holds=holds,
    )
    if out == "-":
        if len(files) == 1:
            write_output(next(iter(files.values())), None)
        else:
            write_output("".join(f"==> {p} <==\n{text}" for p, text in files.items()), None)
        return
    target = Path(out) if out else (session.config.output_dir or default_output_dir())
    write_rendered(files, target)
    note(f"wrote {counted(len(files), 'file')} for changeNumber {new.change_number} to {target}")


def _holds(session: Session, loaded: Loaded, names: list[str], regions: bool) -> Holds | None:
    """What removal grace (history.removal_grace) keeps in the allow-lists, from the history."""
    from tagsync.grace import grace_setting

    grace = grace_setting(session.config)
    if grace is None:
        return None
    from tagsync.staging import staged
    from tagsync.tagnames import resolve_tags

    new = loaded.service_tags
    selected = [t.name for t in resolve_tags(new, names, regions=regions)]
    return staged(session.store(), new, loaded.fetched.source, selected, grace=grace)[1]


def _previous(session: Session, against: Path | None, from_snapshot: bool) -> ServiceTags | None:
    """The version to diff against: --against, else the snapshot when rendering something new."""
    from tagsync.sync import load_version

    if against is not None:
        return load_version(session.cloud, session.config.download, file=against).service_tags
    if from_snapshot:
        return None  # rendering the snapshot itself: nothing to compare with
    old = session.store().load()
    if old is None:
        note("no accepted snapshot and no --against: no incremental PAN-OS commands")
    return old
