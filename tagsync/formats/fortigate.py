"""FortiGate (FortiOS CLI): address objects, per-tag address groups, a policy, and incremental
commands between two versions.

Layout: one ``config firewall address`` (IPv4) or ``address6`` entry per prefix, named from the
prefix (``tagsync-n-20-36-0-0_14``); per tag and family one ``addrgrp``/``addrgrp6`` group, split
when it would pass ``group_member_limit`` (``tagsync-g-AzureCloud-v4-01``, ``-02``, ...); and one
top group per family (``tagsync-all-v4``, ``tagsync-all-v6``) holding the tag groups, so the
policy names two groups that never change while tag groups come and go. FortiOS nests address
groups ("An address group can be a member of another address group", FortiOS 6.0 CLI reference,
``firewall {addrgrp | addgrp6}``, docs.fortinet.com/document/fortigate/6.0.0/cli-reference/843701).

Limits, from Fortinet's CLI reference:

- names: an address group's ``size[63]`` and a member (address) name's ``size[64]`` in FortiOS
  6.0 (page above), "Maximum length: 79" for both from 6.4
  (docs.fortinet.com/document/fortigate/6.4.6/cli-reference/254620); every name here stays
  within 63 so one file loads on both. Names are letters, digits, ``.``, ``_`` and ``-`` only,
  always inside double quotes. Group comments: ``size[255]`` (6.0 page).
- policy name and interface names: "Maximum length: 35" (``config firewall policy64``,
  docs.fortinet.com/document/fortigate/6.4.4/cli-reference/318620); one ``config firewall
  policy`` holds IPv4 and IPv6 (``srcaddr6``/``dstaddr6``) since 6.4
  (docs.fortinet.com/document/fortigate/6.4.3/cli-reference/311620).
- IPv4 and IPv6 in separate tables: "You cannot mix IPv4 firewall addresses and IPv6 firewall
  addresses in the same address group" (FortiOS 5.2 online help, Firewall objects > Address
  Groups), hence ``addrgrp`` and ``addrgrp6`` and a top group per family.
- members per address group: Fortinet documents no single figure. Its Maximum Values Table
  (docs.fortinet.com/max-value-table; the release notes send readers there for maximum values,
  e.g. FortiGate-6000 6.0.9, docs.fortinet.com/document/fortigate-6000/6.0.9/
  fortigate-6000-release-notes/625722) gives it per model and release as the per-instance
  limit of ``firewall.addrgrp:member`` (Fortinet's own Terraform/CTS modules point there),
  and ``print tablesize`` shows the unit's own. The default, 600, is the figure the earlier
  user-template sample used as a floor; users of small models should check their unit
  (``render.fortigate.group_member_limit``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tagsync.errors import ConfigError
from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, TagView, setting
from tagsync.formats.checks import int_between, matching
from tagsync.formats.filters import netmask
from tagsync.formats.objectgroups import (
    Layout,
    Plan,
    layout,
    numbered_names,
    plan,
    prefix_object_names,
    previous_prefixes,
)

if TYPE_CHECKING:
    from tagsync.formats.settings import RenderSettings

__all__ = ["FORMAT", "FortiFamily", "FortiGateOptions", "forti_families", "member_lines"]

MAX_NAME = 63
MAX_POLICY_NAME = 35
MEMBERS_PER_LINE = 50  # "set member" then "append member": CLI lines of reasonable length
NAME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")  # room for "n-" + 39 + "_128"
POLICY_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_POLICY_NAME - 1}}}")
INTERFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,34}")


@dataclass(frozen=True, slots=True)
class FortiGateOptions(FormatOptions):
    name_prefix: str = setting("tagsync-", matching(NAME_PREFIX))
    group_member_limit: int = setting(600, int_between(1, 10000))
    policy_name: str = setting("tagsync-https", matching(POLICY_NAME))
    srcintf: str = setting("any", matching(INTERFACE))
    dstintf: str = setting("any", matching(INTERFACE))


@dataclass(frozen=True, slots=True)
class FortiFamily:
    """One IP family's FortiOS tables: objects, tag groups and the top group over them."""

    version: int  # 4 or 6
    address_table: str  # "address" / "address6"
    group_table: str  # "addrgrp" / "addrgrp6"
    top: str  # top group name ("tagsync-all-v4")
    layout: Layout
    # tag group -> its comment. No changeNumber in it: a comment that changed with every
    # version would make the incremental file touch groups whose members did not change.
    comments: dict[str, str]

    @property
    def entries(self) -> list[tuple[str, str]]:
        """(object name, ``set`` argument) for every address object."""
        return self.entries_for(self.layout.objects.items())

    def entries_for(self, objects: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(object name, ``subnet ADDRESS MASK`` or ``ip6 PREFIX``) for (name, prefix) pairs."""
        if self.version == 4:
            return [(name, f"subnet {netmask(prefix)}") for name, prefix in objects]
        return [(name, f"ip6 {prefix}") for name, prefix in objects]


def member_lines(members: Sequence[str], verb: str = "set") -> list[str]:
    """``set member "a" "b" ...`` then ``append member ...`` lines, 50 names each; with
    ``verb`` "append" or "unselect", every line uses it. Names are validated, so they go
    inside double quotes as they are."""
    if verb not in ("set", "append", "unselect"):
        raise ValueError(f"member_lines: unknown verb {verb!r}")
    lines = []
    for start in range(0, len(members), MEMBERS_PER_LINE):
        word = "append" if verb == "set" and start else verb
        quoted = '" "'.join(members[start : start + MEMBERS_PER_LINE])
        lines.append(f'{word} member "{quoted}"')
    return lines


def _family_layout(
    pairs: Sequence[tuple[str, Sequence[str]]], version: int, options: FortiGateOptions
) -> Layout:
    suffix = f"-v{version}"
    lead = options.name_prefix

    def group_names(tag: str, count: int) -> list[str]:
        return numbered_names(f"{lead}g-{tag}", tag, count, MAX_NAME, suffix)

    def object_names(prefixes: Sequence[str]) -> list[str]:
        return prefix_object_names(prefixes, f"{lead}n-")

    v6 = version == 6
    wanted = [(tag, [p for p in prefixes if (":" in p) == v6]) for tag, prefixes in pairs]
    return layout(wanted, object_names, group_names, options.group_member_limit)


def forti_families(
    pairs: Sequence[tuple[str, Sequence[str]]],
    options: FortiGateOptions,
) -> list[FortiFamily]:
    """The IPv4 and IPv6 tables for ``(tag, sorted prefixes)`` pairs."""
    families = []
    for version, table, groups in ((4, "address", "addrgrp"), (6, "address6", "addrgrp6")):
        shape = _family_layout(pairs, version, options)
        if len(shape.groups) > options.group_member_limit:
            raise ConfigError(
                f"fortigate: the selected tags need {len(shape.groups)} IPv{version} groups, more "
                f"than render.fortigate.group_member_limit ({options.group_member_limit}) allows "
                f"in {options.name_prefix}all-v{version}; select fewer tags or raise the limit"
            )
        comments = {
            group: f"tagsync: service tag {tag}"
            for tag, names in shape.key_groups.items()
            for group in names
        }
        families.append(
            FortiFamily(
                version=version,
                address_table=table,
                group_table=groups,
                top=f"{options.name_prefix}all-v{version}",
                layout=shape,
                comments=comments,
            )
        )
    return families


def _pairs(views: Sequence[TagView]) -> list[tuple[str, Sequence[str]]]:
    return [(v.name, v.prefixes) for v in views]


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(FortiGateOptions)
    changes = selection.changes
    # The full files and the incremental plans share one layout of this version.
    current = functools.cache(lambda: forti_families(_pairs(selection.tags), options))

    def plans() -> list[tuple[FortiFamily, Plan]] | None:
        if changes is None:
            return None
        old = forti_families(previous_prefixes(selection.tags, changes), options)
        return [(n, plan(o.layout, n.layout)) for o, n in zip(old, current(), strict=True)]

    return {
        "forti": current,
        "forti_plans": plans,
        "changes": lambda: changes,
    }


FORMAT = Format(
    name="fortigate",
    summary="FortiOS CLI: address objects, address groups split at the member limit, a policy; "
    "incremental commands against a previous version",
    outputs=("fortigate/addresses.conf", "fortigate/policy.conf"),
    options=FortiGateOptions,
    context=_context,
    in_all=False,
    incremental_outputs=("fortigate/incremental.conf",),
    filters={"fortios_members": member_lines},
)
