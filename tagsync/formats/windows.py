"""Windows Firewall: a PowerShell script creating outbound TCP 443 allow rules, chunked so no
rule holds more remote addresses than Windows handles well."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, TagView, setting
from tagsync.formats.checks import int_between, label
from tagsync.formats.settings import RenderSettings

__all__ = ["FORMAT", "MAX_WINDOWS_CHUNK", "WindowsOptions", "chunks", "windows_rules"]

MAX_WINDOWS_CHUNK = 1000  # the practical RemoteAddress limit per rule


@dataclass(frozen=True, slots=True)
class WindowsOptions(FormatOptions):
    group: str = setting("tagsync", label)
    chunk_size: int = setting(MAX_WINDOWS_CHUNK, int_between(1, MAX_WINDOWS_CHUNK))


def chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def windows_rules(views: Sequence[TagView], group: str, size: int) -> list[dict[str, Any]]:
    """One rule per ``size`` prefixes of each tag, named ``<group>-<tag>-<NNN>``."""
    rules = []
    for view in views:
        parts = chunks(view.prefixes, size)
        for index, part in enumerate(parts, start=1):
            rules.append(
                {
                    "name": f"{group}-{view.name}-{index:03d}",
                    "display": f"{group}: {view.name} HTTPS ({index} of {len(parts)})",
                    "addresses": part,
                }
            )
    return rules


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(WindowsOptions)
    return {
        "windows_rules": lambda: windows_rules(selection.tags, options.group, options.chunk_size)
    }


FORMAT = Format(
    name="windows",
    summary="Windows Firewall outbound TCP 443 rules (PowerShell, NetSecurity module)",
    outputs=("windows/rules.ps1",),
    options=WindowsOptions,
    context=_context,
)
