"""The `tagsync check` command: the cron / CI run (download, diff, render, alert, accept)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    FileOption,
    LockTimeoutOption,
    PageUrlOption,
    RegionsFlag,
    StateDirOption,
    TagOption,
    UrlOption,
    handle_errors,
    open_session,
)

LOG_FORMATS = ("text", "json")


@handle_errors
def check(
    tag: TagOption = None,
    regions: RegionsFlag = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Directory for the rendered configs [default: from config]"
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the Markdown change report here when changed"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a mass removal of prefixes (or an empty tag)")
    ] = False,
    text_changes: Annotated[
        bool,
        typer.Option(
            "--text-changes",
            help="Count prefix-text changes with no address gained or lost (re-aggregations) "
            "as changes too",
        ),
    ] = False,
    allow_rollback: Annotated[
        bool, typer.Option("--allow-rollback", help="Accept a lower changeNumber")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every step, not only changes and errors")
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="text, or json (one object per line on stderr)")
    ] = "text",
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
    lock_timeout: LockTimeoutOption = 120.0,
) -> None:
    """Download, diff the watched tags, render configs, alert on changes, accept the new version.

    Exit: 0 no address gained or lost, 1 changed (and alerted), 2 usage, 3 bad data or
    refused, 4 download failed, 5 alert delivery failed (the snapshot stays, so the next run
    alerts again).
    """
    from tagsync.errors import TagsyncError
    from tagsync.logs import configure
    from tagsync.runner import CheckRequest, run_check

    log_format = log_format.lower()
    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"choose one of {', '.join(LOG_FORMATS)}", param_hint="--log-format"
        )
    if url is not None and file is not None:
        raise typer.BadParameter("give either --url or --file, not both")
    if lock_timeout < 0:
        raise typer.BadParameter("must be 0 or more seconds", param_hint="--lock-timeout")
    log = configure(verbose=verbose, log_format=log_format)
    try:
        session = open_session(config, cloud, state_dir, page_url)
        request = CheckRequest(
            url=url,
            file=file,
            out_dir=out,
            tags=tuple(tag or ()),
            regions=regions,
            force=force,
            allow_rollback=allow_rollback,
            lock_timeout=lock_timeout,
            report=report,
            text_changes=text_changes,
        )
        result = run_check(session.config, session.cloud, session.state_dir, request, log)
    except TagsyncError as exc:
        # Logged rather than printed, so --log-format json keeps stderr one JSON object per line.
        log.error(exc.message, extra={"event": "failed", "exit_code": exc.exit_code})
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(result.exit_code)
