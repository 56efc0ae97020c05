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
    TextChangesFlag,
    UrlOption,
    handle_errors,
    open_session,
)


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
    text_changes: TextChangesFlag = False,
    allow_rollback: Annotated[
        bool, typer.Option("--allow-rollback", help="Accept a lower changeNumber")
    ] = False,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
    lock_timeout: LockTimeoutOption = 120.0,
    save_watched: Annotated[
        Path | None,
        typer.Option(
            "--save-watched",
            help="When the watched tags changed (or FILE is missing), write the accepted version "
            "cut down to the watched tags here: a small baseline to commit, from which "
            "`update --file` restores the state",
        ),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Also write Prometheus metrics here after every run, failed or not "
            "(node_exporter textfile collector: a *.prom file in its directory)",
        ),
    ] = None,
) -> None:
    """Download, diff the watched tags, render configs, alert on changes, accept the new version.

    Exit: 0 no address gained or lost, 1 changed (and alerted), 2 usage, 3 bad data or
    refused, 4 download failed, 5 alert delivery failed (the snapshot stays, so the next run
    alerts again), 6 a local file or directory could not be written (nothing was changed).
    """
    from tagsync.logs import get_logger
    from tagsync.runner import CheckRequest, run_check

    if url is not None and file is not None:
        raise typer.BadParameter("give either --url or --file, not both")
    if lock_timeout < 0:
        raise typer.BadParameter("must be 0 or more seconds", param_hint="--lock-timeout")
    log = get_logger()
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
        save_watched=save_watched,
    )
    if metrics_file is None:
        raise typer.Exit(
            run_check(session.config, session.cloud, session.state_dir, request, log).exit_code
        )
    from tagsync.commands.common import check_output
    from tagsync.errors import TagsyncError
    from tagsync.metrics import record_run
    from tagsync.store import Store

    check_output(metrics_file, "metrics file")
    code = 2
    try:
        code = run_check(session.config, session.cloud, session.state_dir, request, log).exit_code
    except TagsyncError as exc:
        code = exc.exit_code
        raise
    finally:
        store = Store(session.state_dir, session.cloud)
        record_run(metrics_file, store, list(tag or session.config.tags), code)
    raise typer.Exit(code)
