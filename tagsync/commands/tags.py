"""The `tagsync tags` command: tag names with their IPv4 and IPv6 prefix counts."""

from __future__ import annotations

from typing import Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    DownloadFlag,
    FileOption,
    PageUrlOption,
    StateDirOption,
    UrlOption,
    handle_errors,
    open_session,
    write_output,
)


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
