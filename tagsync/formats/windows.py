"""Windows Firewall: a PowerShell script creating outbound TCP 443 allow rules, chunked so no
rule holds more remote addresses than Windows handles well.

The script replaces the rules of its group make-before-break: it creates this file's rules
under new names (the names end in this file's version, a digest of its rules, and a run
number), and only when every one exists removes the group's previous rules. If a creation
fails it removes what it created, leaves the previous rules in place and exits 1.

Cmdlets and parameters as documented by Microsoft (NetSecurity module):
New-NetFirewallRule (-Name, -DisplayName, -Group, -Direction, -Action, -Protocol,
-RemotePort/-LocalPort, -Profile, -RemoteAddress; returns the new rule),
Get-NetFirewallRule -Group (wildcards accepted, so the group is escaped and compared exactly
too) and Remove-NetFirewallRule -InputObject (the rule object itself, never a name pattern):
https://learn.microsoft.com/powershell/module/netsecurity/new-netfirewallrule ,
.../get-netfirewallrule and .../remove-netfirewallrule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, TagView, setting
from tagsync.formats.checks import int_between, label
from tagsync.formats.settings import RenderSettings

__all__ = [
    "FORMAT",
    "MAX_WINDOWS_CHUNK",
    "WindowsOptions",
    "chunks",
    "rules_version",
    "windows_rules",
]

MAX_WINDOWS_CHUNK = 1000  # the practical RemoteAddress limit per rule


@dataclass(frozen=True, slots=True)
class WindowsOptions(FormatOptions):
    group: str = setting("tagsync", label)
    chunk_size: int = setting(MAX_WINDOWS_CHUNK, int_between(1, MAX_WINDOWS_CHUNK))


def chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def windows_rules(views: Sequence[TagView], group: str, size: int) -> list[dict[str, Any]]:
    """One rule per ``size`` prefixes of each tag, named ``<group>-<tag>-<NNN>`` (the script
    appends the version and run number at run time)."""
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


def rules_version(rules: Iterable[Mapping[str, Any]]) -> str:
    """``v`` and 8 hex digits of a digest of everything the rules say: the same rules always
    give the same version (byte-identical scripts), any change to a name, port or address
    gives another, so a new file never reuses the names of the rules it replaces."""
    canonical = json.dumps(
        [{key: list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
          for key, v in sorted(rule.items())} for rule in rules],
        sort_keys=True,
        separators=(",", ":"),
    )  # fmt: skip
    return "v" + hashlib.sha256(canonical.encode()).hexdigest()[:8]


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
    # The sensor profile's Windows script versions its rules the same way.
    filters={"rules_version": rules_version},
)
