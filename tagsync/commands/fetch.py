"""The `tagsync fetch` command: download the current file, validate it, save it byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    FileOption,
    PageUrlOption,
    UrlOption,
    check_output,
    handle_errors,
    note,
    open_session,
    write_output,
)
from tagsync.words import counted


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
    check_output(output)
    session = open_session(config, cloud, page_url=page_url)
    loaded = session.load(url=url, file=file)
    st = loaded.service_tags
    write_output(loaded.fetched.data, output)
    if str(output) != "-":
        tags = counted(len(st.tags), "tag")
        note(f"saved {st.cloud} changeNumber {st.change_number} ({tags}) to {output}")
