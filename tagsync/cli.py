"""The tagsync command line: a thin Typer shell over the core functions.

Heavy modules (requests, deepdiff, jinja2, netaddr) are imported inside the commands that need
them, so ``tagsync --help`` costs little more than importing Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tagsync import __version__
from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    DownloadFlag,
    FileOption,
    LockTimeoutOption,
    PageUrlOption,
    RegionsFlag,
    StateDirOption,
    TagOption,
    TagsArgument,
    UrlOption,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.errors import EXIT_CHANGED, EXIT_OK

app = typer.Typer(
    name="tagsync",
    help="Keep firewall rules in step with Microsoft's Azure service tag IP ranges.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: Typer's rich formatter costs ~70 ms of imports at every
    # start, more than everything else in `tagsync --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tagsync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show version and exit"),
    ] = False,
) -> None:
    """Download, validate, diff and render Azure service tags (exit codes: see README)."""


@app.command()
@handle_errors
def fetch(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to save the raw file ('-': stdout)")
    ],
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Download the current file, validate it, and save it byte for byte."""
    session = open_session(config, cloud, page_url=page_url)
    loaded = session.load(url=url, file=file)
    st = loaded.service_tags
    if str(output) == "-":
        typer.get_binary_stream("stdout").write(loaded.fetched.data)
    else:
        from tagsync.atomic import atomic_write_bytes

        atomic_write_bytes(output, loaded.fetched.data)
        note(f"saved {st.cloud} changeNumber {st.change_number} ({len(st.tags)} tags) to {output}")


@app.command()
@handle_errors
def tags(
    contains: Annotated[
        str | None, typer.Argument(help="Only names containing this (case-insensitive)")
    ] = None,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List tag names with their IPv4 and IPv6 prefix counts."""
    session = open_session(config, cloud, state_dir, page_url)
    st = session.load(url=url, file=file, prefer_snapshot=not download).service_tags
    needle = (contains or "").lower()
    lines = []
    for name in sorted(st.tags):
        if needle in name.lower():
            tag = st.tags[name]
            v4 = sum(1 for p in tag.prefixes if ":" not in p)
            lines.append(f"{name}\t{v4}\t{len(tag.prefixes) - v4}\n")
    write_output("".join(lines), None)


@app.command()
@handle_errors
def prefixes(
    names: TagsArgument = None,
    ipv4: Annotated[bool, typer.Option("--ipv4", "-4", help="IPv4 prefixes only")] = False,
    ipv6: Annotated[bool, typer.Option("--ipv6", "-6", help="IPv6 prefixes only")] = False,
    aggregate: Annotated[
        bool, typer.Option("--aggregate", help="Merge adjacent and overlapping networks")
    ] = False,
    regions: RegionsFlag = False,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the prefixes of one or more tags, one per line, sorted numerically."""
    from tagsync.model import resolve_tags
    from tagsync.prefixes import aggregate as merge
    from tagsync.prefixes import select_family, sort_prefixes

    session = open_session(config, cloud, state_dir, page_url)
    loaded = session.load(url=url, file=file, prefer_snapshot=not download, few_tags=True)
    st = loaded.service_tags
    wanted = names or list(session.config.tags)
    selected = resolve_tags(st, wanted, regions=regions or session.config.regions)
    both = ipv4 == ipv6
    result = select_family(
        (p for tag in selected for p in tag.prefixes), ipv4=ipv4 or both, ipv6=ipv6 or both
    )
    ordered = merge(result) if aggregate else sort_prefixes(result)
    write_output("".join(f"{p}\n" for p in ordered), None)


FormatOption = Annotated[
    str, typer.Option("--format", help="text, json or markdown", case_sensitive=False)
]


@app.command()
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
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when something changed, 0 when not")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here")
    ] = None,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show which prefixes a new version adds and removes compared with the snapshot."""
    from tagsync.diff import diff_service_tags
    from tagsync.model import ServiceTags
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
    new = session.load(url=url, file=file, prefer_snapshot=kept is not None).service_tags
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
        wanted = tag or list(session.config.tags)
        names = watched_names(old, new, wanted, regions=regions or session.config.regions)
    changes = diff_service_tags(old, new, names)
    write_output(render_report(changes, fmt), output)
    if exit_code and changes.changed:
        raise typer.Exit(EXIT_CHANGED)


@app.command()
@handle_errors
def update(
    tag: TagOption = None,
    all_tags: Annotated[bool, typer.Option("--all-tags", help="Guard every tag")] = False,
    regions: RegionsFlag = False,
    allow_rollback: Annotated[
        bool, typer.Option("--allow-rollback", help="Accept a lower changeNumber")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Accept even a mass removal of prefixes")
    ] = False,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
    lock_timeout: LockTimeoutOption = 120.0,
) -> None:
    """Validate a new version and accept it as the snapshot (guards: rollback, mass removal)."""
    from tagsync.sync import accept_version

    session = open_session(config, cloud, state_dir, page_url)
    loaded = session.load(url=url, file=file)
    store = session.store()
    with store.locked(lock_timeout):
        result = accept_version(
            store,
            loaded,
            tags=None if all_tags else (tag or list(session.config.tags)),
            regions=regions or session.config.regions,
            allow_rollback=allow_rollback,
            force=force,
            max_removal_ratio=session.config.max_removal_ratio,
        )
    st = loaded.service_tags
    if result.saved:
        note(
            f"accepted {st.cloud} changeNumber {st.change_number}: "
            f"+{result.changes.added_count} -{result.changes.removed_count} in watched tags"
        )
    else:
        note(f"{st.cloud} changeNumber {st.change_number} is already the accepted snapshot")
    raise typer.Exit(EXIT_OK)


# Commands with their own module: each module keeps heavy imports inside the function body.
def _register_command_modules() -> None:
    from tagsync.commands import check, history, lookup, render

    app.command("render")(render.render)
    app.command("check")(check.check)
    app.command("lookup")(lookup.lookup)
    app.command("history")(history.history)


_register_command_modules()


def main() -> None:
    app()
