"""The `tagsync lookup` command: which service tags contain these addresses or networks?"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
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
    UrlOption,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.words import counted

if TYPE_CHECKING:
    from tagsync.lookup import Match

FORMATS = ("text", "json")
EXIT_BAD_LINES = 3


def _queries(addresses: list[str]) -> Iterator[tuple[str, str]]:
    """(where, text) for every non-blank, non-comment query; '-' expands to stdin's lines."""
    for position, argument in enumerate(addresses, 1):
        if argument != "-":
            yield f"argument {position}", argument.strip()
            continue
        for number, line in enumerate(sys.stdin, 1):
            text = line.split("#", 1)[0].strip()
            if text:
                yield f"line {number}", text


def _text(results: list[tuple[str, tuple[Match, ...]]]) -> str:
    # Answers are shared tuples (memoised per prefix), so each is formatted once.
    formatted: dict[int, list[str]] = {}
    lines: list[str] = []
    for query, matches in results:
        suffixes = formatted.get(id(matches))
        if suffixes is None:
            suffixes = [f"\t{m.tag}\t{m.region or '-'}\t{m.prefix}\n" for m in matches]
            formatted[id(matches)] = suffixes or ["\t-\t-\t-\n"]
            suffixes = formatted[id(matches)]
        lines.extend(query + suffix for suffix in suffixes)
    return "".join(lines)


def _json(results: list[tuple[str, tuple[Match, ...]]], cloud: str, change_number: int) -> str:
    import json

    document = {
        "cloud": cloud,
        "change_number": change_number,
        "results": [
            {"query": query, "matches": [m.to_dict() for m in matches]}
            for query, matches in results
        ],
    }
    return json.dumps(document, indent=2) + "\n"


@handle_errors
def lookup(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            help="IPv4/IPv6 addresses or networks (CIDR); '-' or none with piped input: "
            "read one per line from stdin (blank lines and # comments skipped)",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Only search this tag (repeatable) [default: every tag]"),
    ] = None,
    regions: RegionsFlag = False,
    fmt: Annotated[
        str, typer.Option("--format", help="text (tab-separated) or json", case_sensitive=False)
    ] = "text",
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show every service tag containing each address or network, most specific prefix first.

    Text output is one line per match: QUERY, TAG, REGION and the tag's matching PREFIX,
    tab-separated ('-' for a global tag's region, or in every column after QUERY when no tag
    matches). A network matches a prefix that contains it entirely. Bad lines are reported with
    their line number and skipped; the exit code is then 3.
    """
    from tagsync.lookup import InvalidQuery, LookupIndex, parse_query
    from tagsync.tagnames import resolve_tags

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if not addresses:
        if sys.stdin.isatty():
            raise typer.BadParameter("give addresses, or pipe them in one per line")
        addresses = ["-"]
    if file is not None and str(file) == "-" and "-" in addresses:
        raise typer.BadParameter("standard input cannot hold both the file (-f -) and addresses")
    session = open_session(config, cloud, state_dir, page_url)
    # With --tag only those tags are read, so only they need validating.
    loaded = session.load(url=url, file=file, prefer_snapshot=not download, few_tags=bool(tag))
    st = loaded.service_tags
    selected = resolve_tags(st, tag, regions=regions) if tag else list(st.tags.values())
    index = LookupIndex(selected)
    # The loaded file and index (~500,000 objects) live until exit: taking them out of the
    # cyclic collector's view keeps it from rescanning them while queries allocate.
    gc.freeze()
    answered: dict[str, tuple[Match, ...]] = {}
    results: list[tuple[str, tuple[Match, ...]]] = []
    bad = 0
    for where, text in _queries(addresses):
        matches = answered.get(text)
        if matches is None:
            try:
                matches = index.find(parse_query(text))
            except InvalidQuery as exc:
                bad += 1
                typer.echo(f"tagsync: error: {where}: {exc}", err=True)
                continue
            answered[text] = matches
        results.append((text, matches))
    text_out = _text(results) if fmt == "text" else _json(results, st.cloud, st.change_number)
    write_output(text_out, None)
    if bad:
        note(f"{counted(bad, 'bad line')} skipped")
        raise typer.Exit(EXIT_BAD_LINES)
