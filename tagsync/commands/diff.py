"""The `tagsync diff` command: the prefixes a new version adds and removes, as a report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    FileOption,
    OutputOption,
    PageUrlOption,
    RegionsFlag,
    StateDirOption,
    TagOption,
    TextChangesFlag,
    UrlOption,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.errors import EXIT_CHANGED

if TYPE_CHECKING:
    from tagsync.model import ServiceTags

FormatOption = Annotated[
    str, typer.Option("--format", help="text, json or markdown", case_sensitive=False)
]


@handle_errors
def diff(
    tag: TagOption = None,
    all_tags: Annotated[bool, typer.Option("--all-tags", help="Compare every tag")] = False,
    regions: RegionsFlag = False,
    against: Annotated[
        Path | None, typer.Option("--against", help="Compare with this file, not the snapshot")
    ] = None,
    from_history: Annotated[
        int | None,
        typer.Option(
            "--from-history",
            metavar="K",
            min=1,
            help="Compare the snapshot (or --file/--url) with the version accepted K updates "
            "before the snapshot (1: the previous one), from the state dir's history",
        ),
    ] = None,
    fmt: FormatOption = "text",
    text_changes: TextChangesFlag = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 when a tag gained or lost addresses (or properties), 0 when not",
        ),
    ] = False,
    output: OutputOption = None,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show which prefixes a new version adds and removes compared with the snapshot."""
    from tagsync.diff import diff_service_tags
    from tagsync.report import FORMATS, render_report
    from tagsync.sync import load_version, watched_names

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    session = open_session(config, cloud, state_dir, page_url)
    kept = None
    if from_history is not None:
        from tagsync.history import version_back

        if against is not None:
            raise typer.BadParameter("give either --against or --from-history, not both")
        kept = version_back(session.store(), from_history)
    loaded = session.load(url=url, file=file, prefer_snapshot=kept is not None)
    new = loaded.service_tags
    old: ServiceTags | None
    # The two versions share nearly all prefixes: validate the repeats only once.
    trusted = new.distinct_prefixes
    if kept is not None:
        old = kept
    elif against is not None:
        old = load_version(
            session.cloud, session.config.download, file=against, trusted_prefixes=trusted
        ).service_tags
    else:
        old = session.store().load(trusted_prefixes=trusted)
        if old is None:
            note("no accepted snapshot yet: every prefix counts as added")
    names = None
    if not all_tags:
        wanted = session.watched(new, tag)
        names = watched_names(old, new, wanted, regions=regions or session.config.regions)
    changes = diff_service_tags(old, new, names)
    # The new version's publication (deploy-by) and, for the watched tags, the flaps it closes.
    from tagsync.staging import staged

    store = session.store()
    changes = staged(store, new, loaded.fetched.source, names or [], changes=changes)[0] or changes
    write_output(render_report(changes, fmt), output)
    changed = changes.changed if text_changes else changes.coverage_changed
    if exit_code and changed:
        raise typer.Exit(EXIT_CHANGED)
