"""Juniper SRX (Junos set commands): global address book entries, per-tag address sets, a
security policy, and incremental ``set``/``delete`` commands between two versions.

Layout: ``set security address-book global address NAME PREFIX`` per prefix, named from the
prefix (``tagsync-n-20-36-0-0_14``), IPv4 and IPv6 alike ("Address book entries can include any
combination of IPv4 addresses, IPv6 addresses, and Domain Name System (DNS) names" - Juniper,
Understanding Address Books, Junos Security 10.2, juniper.net/documentation/software/
junos-security/junos-security10.2/junos-security-swconfig-security/topic-41199.html), an
``address-set`` per tag split at ``set_member_limit`` members, and one policy from
``from_zone`` to ``to_zone`` matching the sets, application ``junos-https``, ``then permit``.
With several tags (sensor v3.x watches two) the sets are per tag and family
(``tagsync-g-<tag>-v4``, ``-v6``) and one set per family holds them (``address-set
tagsync-all-v4 address-set tagsync-g-<tag>-v4``): the policy matches those two only, exactly the
tags' union. Sets nest in the global address book from Junos OS 11.2 ("This change also permits
nested groups to be configured within the address book", Juniper, Junos Space Security
Director, NAT Global Address Book Overview, juniper.net/documentation/en_US/junos-space22.2/
topics/concept/junos-space-nat-global-address-book-overview.html); one level is used.
Addresses must be network prefixes with the host bits zero ("1.2.3.4/24 is not acceptable",
same page): tagsync only ever writes canonical prefixes.

Limits: the Junos pages found (above; the ``address``/``address-set`` statement references)
give no name length or set size, so this format stays conservative: names of at most 63
letters, digits, ``_`` and ``-`` (tag dots become ``_``), starting with a letter, as for PAN-OS
and FortiOS; ``set_member_limit`` (default 1024) keeps each set small. What Juniper does document
is a per-policy cap on referenced addresses in older releases: its "Address and address set
limitations" page (Junos 12.1X44, cited by Aerleon's junipersrx generator, which splits
policies at 1,023 addresses with an IPv6 address counting four). A large tag such as AzureCloud
needs a release and platform whose policy limit fits it: ``commit check`` says so.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, TagView, setting
from tagsync.formats.checks import int_between, matching
from tagsync.formats.objectgroups import (
    DIGEST_LENGTH,
    Layout,
    Plan,
    family_layout,
    layout,
    numbered_names,
    plan,
    prefix_object_names,
    previous_prefixes,
)

if TYPE_CHECKING:
    from tagsync.formats.settings import RenderSettings

__all__ = ["FORMAT", "JuniperSrxOptions", "srx_layout"]

MAX_NAME = 63
NAME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")  # room for "n-" + 39 + "_128"
JUNOS_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_-]{{0,{MAX_NAME - 1}}}")


@dataclass(frozen=True, slots=True)
class JuniperSrxOptions(FormatOptions):
    name_prefix: str = setting("tagsync-", matching(NAME_PREFIX))
    set_member_limit: int = setting(1024, int_between(1, 16384))
    policy_name: str = setting("tagsync-https", matching(JUNOS_NAME))
    from_zone: str = setting("trust", matching(JUNOS_NAME))
    to_zone: str = setting("untrust", matching(JUNOS_NAME))


def srx_layout(pairs: Sequence[tuple[str, Sequence[str]]], options: JuniperSrxOptions) -> Layout:
    """Address book entries and address sets for ``(tag, sorted prefixes)`` pairs."""
    lead = options.name_prefix
    # Tag dots become "_"; two tags that then read alike ("A.b", "A_b") get a digest each.
    slugs = Counter(tag.replace(".", "_") for tag, _ in pairs)

    def group_names(tag: str, count: int, suffix: str = "") -> list[str]:
        slug = tag.replace(".", "_")
        if slugs[slug] > 1:
            slug = f"{slug}-{hashlib.sha256(tag.encode()).hexdigest()[:DIGEST_LENGTH]}"
        return numbered_names(f"{lead}g-{slug}", tag, count, MAX_NAME, suffix)

    def object_names(prefixes: Sequence[str]) -> list[str]:
        return prefix_object_names(prefixes, f"{lead}n-")

    if len(pairs) > 1:
        return family_layout(
            pairs,
            object_names,
            lambda tag, family, count: group_names(tag, count, f"-{family}"),
            lambda family: f"{lead}all-{family}",
            options.set_member_limit,
            "render.junipersrx.set_member_limit",
        )
    return layout(pairs, object_names, group_names, options.set_member_limit)


def _pairs(views: Sequence[TagView]) -> list[tuple[str, Sequence[str]]]:
    return [(v.name, v.prefixes) for v in views]


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(JuniperSrxOptions)
    changes = selection.changes
    # The full file and the incremental plan share one layout of this version.
    current = functools.cache(lambda: srx_layout(_pairs(selection.tags), options))

    def srx_plan() -> Plan | None:
        if changes is None:
            return None
        old = srx_layout(previous_prefixes(selection.tags, changes), options)
        return plan(old, current())

    return {
        "srx": current,
        "srx_plan": srx_plan,
        "changes": lambda: changes,
    }


FORMAT = Format(
    name="junipersrx",
    summary="Juniper SRX set commands: global address book, address sets split at the member "
    "limit, a security policy; incremental set/delete commands against a previous version",
    outputs=("junipersrx/set-commands.txt",),
    options=JuniperSrxOptions,
    context=_context,
    in_all=False,
    incremental_outputs=("junipersrx/incremental-set-commands.txt",),
)
