"""The `tagsync tags` command: tag names with their IPv4 and IPv6 prefix counts."""

from __future__ import annotations

from typing import Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    DownloadFlag,
    FileOption,
    FormatOption,
    PageUrlOption,
    StateDirOption,
    UrlOption,
    handle_errors,
    open_session,
    output_format,
    to_json,
    write_output,
)


@handle_errors
def tags(
    contains: Annotated[
        str | None, typer.Argument(help="Only names containing this (case-insensitive)")
    ] = None,
    fmt: FormatOption = "text",
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List tag names with their IPv4 and IPv6 prefix counts (text: a header row, then one
    tab-separated line per tag)."""
    fmt = output_format(fmt)
    session = open_session(config, cloud, state_dir, page_url)
    st = session.load(url=url, file=file, prefer_snapshot=not download).service_tags
    needle = (contains or "").lower()
    rows = []
    for name in sorted(st.tags):
        if needle in name.lower():
            tag = st.tags[name]
            v4 = sum(1 for p in tag.prefixes if ":" not in p)
            rows.append((tag, v4, len(tag.prefixes) - v4))
    if fmt == "json":
        document = {
            "cloud": st.cloud,
            "change_number": st.change_number,
            "tags": [
                {
                    "name": tag.name,
                    "region": tag.region,
                    "system_service": tag.system_service,
                    "change_number": tag.change_number,
                    "ipv4_prefixes": v4,
                    "ipv6_prefixes": v6,
                }
                for tag, v4, v6 in rows
            ],
        }
        write_output(to_json(document), None)
        return
    lines = ["TAG\tIPV4\tIPV6\n", *(f"{tag.name}\t{v4}\t{v6}\n" for tag, v4, v6 in rows)]
    write_output("".join(lines), None)
