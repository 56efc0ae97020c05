"""Cisco ASA / Secure Firewall (ASA software): network object groups, an access-list line per
group, and incremental ``network-object`` / ``no network-object`` commands.

One ``object-group network`` per tag holds the tag's prefixes as ``network-object`` lines, IPv4
and IPv6 together ("You can mix IPv4 and IPv6 entries in a network object group", ASA 9.2
firewall configuration guide, Objects for Access Control, cisco.com/c/en/us/td/docs/security/
asa/asa922/configuration/firewall/asa-922-firewall-config/access-objects.html). IPv4 networks are
written as ``ADDRESS MASK``, IPv6 as ``PREFIX/LENGTH``, single addresses as ``host ADDRESS``:
the forms ``show running-config`` prints, so a rendered file diffs cleanly against the device's.

Names: "Object names are limited to 64 characters, including letters, numbers, and these
characters: .!@#$%^&()-_{}. Object names are case-sensitive." (same guide, Guidelines for
Objects; objects and object groups share one name space). Group names here are the name
prefix and the tag name (letters, digits, ``.``, ``_``, ``-``), shortened with a digest past 64
characters; the access-list name is held to the same 64 characters.

Several tags (sensor v3.x watches two): one group per family, ``tagsync-all-v4`` and
``tagsync-all-v6``, holding the union of the tags' prefixes of that family directly (each
prefix once), and one access-list line per family group. Not nested groups: "The ASA does not
support IPv6 nested network object groups, so you cannot group an object with IPv6 entries
under another IPv6 object group" (ASA 9.2 general operations guide, Objects, IPv6 Guidelines,
cisco.com/c/en/us/td/docs/security/asa/asa92/asdm72/general/asa-general-asdm/acl-objects.html).
A tag name never yields these names: a single tag's group is ``<prefix><tag>``, and the family
groups exist only when several tags are selected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, setting
from tagsync.formats.checks import matching
from tagsync.formats.filters import netmask
from tagsync.formats.objectgroups import (
    Layout,
    Plan,
    family_pairs,
    fitted_name,
    layout,
    plan,
    previous_prefixes,
)

if TYPE_CHECKING:
    from tagsync.formats.settings import RenderSettings

__all__ = ["FORMAT", "CiscoAsaOptions", "asa_layout", "network_objects"]

MAX_NAME = 64
MAX_DESCRIPTION = 100
NAME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,15}")
ACL_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_.-]{{0,{MAX_NAME - 1}}}")
# One group per tag: the ASA documents no member limit for a network object group.
NO_SPLIT = 1 << 30


@dataclass(frozen=True, slots=True)
class CiscoAsaOptions(FormatOptions):
    name_prefix: str = setting("tagsync-", matching(NAME_PREFIX))
    acl_name: str = setting("tagsync-out", matching(ACL_NAME))


def network_objects(prefixes: Sequence[str]) -> list[str]:
    """The ``network-object`` argument for each canonical prefix."""
    items = []
    for prefix in prefixes:
        if ":" in prefix:
            address, _, length = prefix.partition("/")
            items.append(f"host {address}" if length == "128" else prefix)
        elif prefix.endswith("/32"):
            items.append(f"host {prefix[:-3]}")
        else:
            items.append(netmask(prefix))
    return items


def asa_layout(pairs: Sequence[tuple[str, Sequence[str]]], options: CiscoAsaOptions) -> Layout:
    """One group per tag, or with several tags one per family holding their union
    (``objects`` maps each ``network-object`` argument to its prefix)."""
    if len(pairs) > 1:
        return layout(
            family_pairs(pairs),
            network_objects,
            lambda family, count: [f"{options.name_prefix}all-{family}"],
            NO_SPLIT,
        )

    def group_names(tag: str, count: int) -> list[str]:
        return [fitted_name(f"{options.name_prefix}{tag}", tag, MAX_NAME)]

    return layout(pairs, network_objects, group_names, NO_SPLIT)


@dataclass(frozen=True, slots=True)
class AsaConfig:
    """What the templates read: the groups, and each group's description."""

    layout: Layout
    # No changeNumber in a description: it would change every version for unchanged groups.
    descriptions: dict[str, str]


def _description(text: str) -> str:
    # Tag names run to 200 characters; a description is only a label (the group name is the
    # key), so it is kept short rather than relying on the ASA's description limit.
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."


def _config(pairs: Sequence[tuple[str, Sequence[str]]], options: CiscoAsaOptions) -> AsaConfig:
    shape = asa_layout(pairs, options)
    tags = ", ".join(tag for tag, _ in pairs)
    descriptions = {
        group: _description(
            f"tagsync: IPv{key[1]} of service tags {tags}"
            if len(pairs) > 1
            else f"tagsync: service tag {key}"
        )
        for key, groups in shape.key_groups.items()
        for group in groups
    }
    return AsaConfig(shape, descriptions)


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(CiscoAsaOptions)
    changes = selection.changes
    pairs = [(v.name, v.prefixes) for v in selection.tags]
    # The full file and the incremental plan share one layout of this version.
    config = functools.cache(lambda: _config(pairs, options))

    def asa_plan() -> Plan | None:
        if changes is None:
            return None
        old = asa_layout(previous_prefixes(selection.tags, changes), options)
        return plan(old, config().layout)

    return {
        "asa": config,
        "asa_plan": asa_plan,
        "changes": lambda: changes,
    }


FORMAT = Format(
    name="ciscoasa",
    summary="Cisco ASA / Secure Firewall: network object groups (IPv4 and IPv6), an "
    "access-list line; incremental network-object commands against a previous version",
    outputs=("ciscoasa/config.txt",),
    options=CiscoAsaOptions,
    context=_context,
    in_all=False,
    incremental_outputs=("ciscoasa/incremental.txt",),
)
