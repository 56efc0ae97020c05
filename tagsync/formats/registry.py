"""The format registry: every built-in format by name, and user formats from template folders.

A user format is a directory ``DIR/NAME`` of ``*.j2`` templates given with ``--templates DIR``;
it registers through the same :class:`~tagsync.formats.base.Format` interface as the built-in
ones, with every built-in format's template values available.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from tagsync.errors import ConfigError
from tagsync.formats import (
    ciscoasa,
    expressroute,
    fortigate,
    iptables,
    junipersrx,
    mdi_sensor,
    nftables,
    paloalto,
    proxy,
    windows,
)
from tagsync.formats.base import Format, LazyContext, Selection
from tagsync.formats.settings import RenderSettings, UserOptions
from tagsync.suggest import did_you_mean

__all__ = ["ALL", "BUILTIN", "resolve_formats", "site_neutral", "user_format"]

BUILTIN: Mapping[str, Format] = {
    fmt.name: fmt
    for fmt in (
        iptables.FORMAT,
        nftables.FORMAT,
        paloalto.FORMAT,
        windows.FORMAT,
        expressroute.FORMAT,
        mdi_sensor.FORMAT,
        proxy.FORMAT,
        fortigate.FORMAT,
        ciscoasa.FORMAT,
        junipersrx.FORMAT,
    )
}
ALL = "all"  # stands for every format that needs no site-specific settings

_FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_OUTPUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def site_neutral() -> tuple[str, ...]:
    """The formats ``all`` stands for, in registry order."""
    return tuple(name for name, fmt in BUILTIN.items() if fmt.in_all)


def _every_builtin_value(selection: Selection, settings: RenderSettings) -> LazyContext:
    values: dict[str, object] = {}
    for fmt in BUILTIN.values():
        values.update(fmt.context(selection, settings))
    return values  # type: ignore[return-value]


def user_format(directory: Path, name: str) -> Format:
    """The format made of the templates in ``directory`` (``DIR/NAME``)."""
    outputs = sorted(
        p.name.removesuffix(".j2")
        for p in directory.iterdir()
        if p.name.endswith(".j2") and not p.name.startswith(("_", ".")) and p.is_file()
    )
    if not outputs:
        raise ConfigError(f"{directory}: no templates (*.j2) for format {name}")
    bad = [n for n in outputs if not _OUTPUT_NAME.fullmatch(n)]
    if bad:
        raise ConfigError(f"{directory}: template name {bad[0]!r:.60}.j2 is not a plain name")
    return Format(
        name=name,
        summary=f"templates in {directory}",
        outputs=tuple(f"{name}/{output}" for output in outputs),
        options=UserOptions,
        context=_every_builtin_value,
        in_all=False,
        builtin=False,
    )


def resolve_formats(names: Iterable[str], templates_dir: Path | None = None) -> list[Format]:
    """The formats for ``names`` (``all`` expanded), built-in or a template directory under
    ``templates_dir``; an unknown name is a ConfigError with a did-you-mean."""
    wanted: list[str] = []
    for name in names:
        wanted.extend(site_neutral() if name == ALL else [name])
    result: list[Format] = []
    for name in dict.fromkeys(wanted):
        if name in BUILTIN:
            result.append(BUILTIN[name])
            continue
        directory = templates_dir / name if templates_dir is not None else None
        if directory is None or not _FORMAT_NAME.fullmatch(name) or not directory.is_dir():
            shown = name if _FORMAT_NAME.fullmatch(name) else repr(name)[:40]
            known = [*BUILTIN, ALL]
            raise ConfigError(
                f"unknown format {shown}{did_you_mean(name, known)}: choose from "
                f"{', '.join(known)}, or add one as templates in "
                f"{directory if directory else '--templates DIR/NAME'}/*.j2"
            )
        result.append(user_format(directory, name))
    return result
