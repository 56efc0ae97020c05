"""Windows Firewall: a PowerShell script creating outbound TCP 443 allow rules, chunked so no
rule holds more remote addresses than Windows handles well.

With one tag the rules are that tag's (``<group>-<tag>-001``, IPv4 and IPv6 together); with
several (sensor v3.x watches two) one rule per IP family holds the union of the tags
(``<group>-v4-001``, ``<group>-v6-001``, each prefix once), still split at ``chunk_size``.

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
from tagsync.prefixes import sorted_families

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
    """One rule per ``size`` prefixes of each tag, named ``<group>-<tag>-<NNN>``; with several
    tags, of each family's union, named ``<group>-v4-<NNN>``/``-v6-`` (the script appends the
    version and run number at run time)."""
    if len(views) > 1:
        v4, v6 = sorted_families(prefix for view in views for prefix in view.prefixes)
        count = f"{len(views)} service tags"
        keyed = [("v4", f"IPv4 of {count}", v4), ("v6", f"IPv6 of {count}", v6)]
    else:
        keyed = [(view.name, view.name, view.prefixes) for view in views]
    rules = []
    for key, title, prefixes in keyed:
        parts = chunks(prefixes, size)
        for index, part in enumerate(parts, start=1):
            rules.append(
                {
                    "name": f"{group}-{key}-{index:03d}",
                    "display": f"{group}: {title} HTTPS ({index} of {len(parts)})",
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
