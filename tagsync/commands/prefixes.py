"""The `tagsync prefixes` command: the prefixes of some tags, one per line, sorted numerically."""

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
    RegionsFlag,
    StateDirOption,
    TagsArgument,
    UrlOption,
    handle_errors,
    open_session,
    output_format,
    to_json,
    write_output,
)


@handle_errors
def prefixes(
    names: TagsArgument = None,
    ipv4: Annotated[bool, typer.Option("--ipv4", "-4", help="IPv4 prefixes only")] = False,
    ipv6: Annotated[bool, typer.Option("--ipv6", "-6", help="IPv6 prefixes only")] = False,
    aggregate: Annotated[
        bool, typer.Option("--aggregate", help="Merge adjacent and overlapping networks")
    ] = False,
    regions: RegionsFlag = False,
    fmt: FormatOption = "text",
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the prefixes of one or more tags, one per line, sorted numerically."""
    fmt = output_format(fmt)
    from tagsync.prefixes import aggregate as merge
    from tagsync.prefixes import select_family, sort_prefixes
    from tagsync.tagnames import resolve_tags

    session = open_session(config, cloud, state_dir, page_url)
    loaded = session.load(url=url, file=file, prefer_snapshot=not download, few_tags=True)
    st = loaded.service_tags
    wanted = session.watched(st, names)
    selected = resolve_tags(st, wanted, regions=regions or session.config.regions)
    both = ipv4 == ipv6
    result = select_family(
        (p for tag in selected for p in tag.prefixes), ipv4=ipv4 or both, ipv6=ipv6 or both
    )
    ordered = merge(result) if aggregate else sort_prefixes(result)
    if fmt == "json":
        document = {
            "cloud": st.cloud,
            "change_number": st.change_number,
            "tags": [tag.name for tag in selected],
            "aggregated": aggregate,
            "ipv4": [p for p in ordered if ":" not in p],
            "ipv6": [p for p in ordered if ":" in p],
        }
        write_output(to_json(document), None)
        return
    write_output("".join(f"{p}\n" for p in ordered), None)
