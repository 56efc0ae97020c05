"""The `tagsync update` command: accept a validated new version as the snapshot."""

from __future__ import annotations

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
    note,
    open_session,
)
from tagsync.errors import EXIT_OK


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
    from tagsync.errors import LocalError
    from tagsync.sync import accept_version

    session = open_session(config, cloud, state_dir, page_url)
    store = session.store(writable=True)
    loaded = session.load(url=url, file=file)
    with store.locked(lock_timeout):
        try:
            result = accept_version(
                store,
                loaded,
                tags=None if all_tags else session.watched(loaded.service_tags, tag),
                regions=regions or session.config.regions,
                allow_rollback=allow_rollback,
                force=force,
                max_removal_ratio=session.config.max_removal_ratio,
                history_keep=session.history_keep(),
            )
        except OSError as exc:
            # Writes are atomic: the previous snapshot is still the accepted one.
            raise LocalError.from_os_error(exc, store.root, "write the state directory") from None
    st = loaded.service_tags
    if result.saved:
        from tagsync.report import totals_text

        note(f"accepted {st.cloud} changeNumber {st.change_number}: {totals_text(result.changes)}")
    else:
        note(f"{st.cloud} changeNumber {st.change_number} is already the accepted snapshot")
    raise typer.Exit(EXIT_OK)
