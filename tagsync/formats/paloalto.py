"""Palo Alto Networks PAN-OS: set commands, an XML snippet, an EDL, and incremental commands.

This module holds the format's naming, group chunking, the rule's zones, sources and place in
the rulebase, and the add/remove plan between two versions.

Placement: a rule created with ``set`` lands at the bottom of the rulebase, below any deny rule
the admin already has, where it would never match. ``position`` (default ``top``) is rendered
as ``move rulebase security rules NAME top|bottom|before RULE|after RULE`` (the CLI form of the
configuration ``move`` that the XML API offers as ``type=config&action=move&xpath=...&where=
top|bottom|before|after&dst=RULE``; Palo Alto Networks, PAN-OS XML API "Move Configuration",
https://docs.paloaltonetworks.com/pan-os/10-1/pan-os-panorama-api/pan-os-xml-api-request-types/configuration-api/move-configuration
, and the rule order choices "Move top / Move bottom / Before rule / After rule" of the web
interface, https://docs.paloaltonetworks.com/network-security/security-policy/administration/security-rules/move-or-clone-a-policy-rule-or-object-to-a-different-virtual-system
). An XML ``action=set`` cannot carry a position, so the XML snippet names the move request
to send after it.

Object names come from the prefix itself (``tagsync-n-20.36.0.0/14`` -> ``tagsync-n-20-36-0-0_14``)
so the same prefix always gets the same name across runs and tags; group names come from the
tag. Both stay within PAN-OS's 63 characters of letters, digits, ``_`` and ``-``.

Several tags (sensor v3.x watches two): per tag and family a group (``tagsync-g-<tag>-v4``,
``-v6``, numbered when split), and per family one group holding them (``tagsync-all-v4``,
``tagsync-all-v6``), the only destinations of the rule: it allows exactly the tags' union, one
group per family. A static address group may hold other address groups (Palo Alto Networks
knowledge base, "nested address groups", knowledgebase.paloaltonetworks.com/KCSArticleDetail?
id=kA10g000000ClHgCAK); one level of nesting is used. One tag keeps its single group (both
families), as before.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tagsync.errors import ConfigError
from tagsync.formats import objectgroups
from tagsync.formats.base import Format, FormatOptions, LazyContext, Selection, TagView, setting
from tagsync.formats.checks import address_list, int_between, matching
from tagsync.formats.objectgroups import (
    Layout,
    Plan,
    family_layout,
    numbered_names,
    plan,
    prefix_object_names,
    previous_prefixes,
)

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet
    from tagsync.formats.settings import RenderSettings

__all__ = [
    "FORMAT",
    "Layout",
    "PaloAltoOptions",
    "Plan",
    "family_group_names",
    "group_names",
    "layout",
    "object_name",
    "object_names",
    "panos_layout",
    "placement",
    "plan",
    "source_layout",
]

MAX_NAME = 63
# PAN-OS names: at most 63 characters of letters, digits, "_" and "-". The prefix leaves room
# for "g-"/"n-" and the longest IPv6 prefix text (39 + "_128").
PANOS_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")
PANOS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
# Where the rule goes: "top", "bottom", or "before"/"after" an existing rule's name.
POSITION = re.compile(rf"(?:top|bottom|(?:before|after) {PANOS_NAME.pattern})")


def _position(value: object, where: str) -> str:
    """``top``, ``bottom``, ``before RULE`` or ``after RULE``, with single spaces."""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be top, bottom, before RULE or after RULE")
    text = " ".join(value.split())
    if not POSITION.fullmatch(text):
        raise ConfigError(
            f"{where} {value!r:.80} must be top, bottom, before RULE or after RULE "
            "(RULE: an existing rule's name)"
        )
    return text


@dataclass(frozen=True, slots=True)
class PaloAltoOptions(FormatOptions):
    name_prefix: str = setting("tagsync-", matching(PANOS_PREFIX))
    group_member_limit: int = setting(2500, int_between(1, 10000))
    rule_name: str = setting("tagsync-https", matching(PANOS_NAME))
    # PAN-OS's factory-default zones; set them to the zones the traffic really crosses.
    from_zone: str = setting("trust", matching(PANOS_NAME))
    to_zone: str = setting("untrust", matching(PANOS_NAME))
    # Who may use the rule (e.g. the domain controllers); empty: any source.
    sources: tuple[str, ...] = setting((), address_list)
    # Top by default: a rule added below the admin's deny rules would never match.
    position: str = setting("top", _position)
    vsys: str = setting("vsys1", matching(PANOS_NAME))
    device: str = setting(
        "localhost.localdomain", matching(re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}"))
    )

    def __post_init__(self) -> None:
        FormatOptions.__post_init__(self)
        where, _, ref = self.position.partition(" ")
        if ref == self.rule_name:
            raise ConfigError(
                f"render.paloalto.position: {where} {ref} places the rule relative to itself "
                "(render.paloalto.rule_name); name one of your own rules"
            )


def placement(position: str) -> tuple[str, str | None]:
    """``(where, ref)`` of a checked position: ``("top", None)``, ``("before", "deny-all")``."""
    where, _, ref = position.partition(" ")
    return where, ref or None


def object_name(prefix: str, name_prefix: str) -> str:
    """Deterministic address object name for a canonical CIDR prefix.

    IPv4 dots and IPv6 colons both become ``-``: IPv4 text always has exactly three single
    separators while compressed IPv6 has seven or a ``::`` (``--``), so names never collide.
    """
    address, _, length = prefix.partition("/")
    return f"{name_prefix}n-{address.replace('.', '-').replace(':', '-')}_{length}"


def object_names(prefixes: Sequence[str], name_prefix: str) -> list[str]:
    """:func:`object_name` for a whole list (one pass over the joined text)."""
    return prefix_object_names(prefixes, f"{name_prefix}n-")


def group_names(tag_name: str, name_prefix: str, count: int) -> list[str]:
    """Names of the ``count`` groups holding one tag (numbered only when split), shortened
    with a digest of the tag name past PAN-OS's 63 characters."""
    return numbered_names(f"{name_prefix}g-{tag_name.replace('.', '_')}", tag_name, count, MAX_NAME)


def family_group_names(tag_name: str, family: str, name_prefix: str, count: int) -> list[str]:
    """Names of a tag's groups of one family (``v4``/``v6``) when several tags are selected."""
    base = f"{name_prefix}g-{tag_name.replace('.', '_')}"
    return numbered_names(base, tag_name, count, MAX_NAME, f"-{family}")


def layout(tags: Sequence[tuple[str, Sequence[str]]], name_prefix: str, limit: int) -> Layout:
    """Objects and groups for ``(tag name, sorted prefixes)`` pairs; groups hold <= limit.
    Several tags: per tag and family groups under one group per family."""
    if len(tags) > 1:
        return family_layout(
            tags,
            lambda prefixes: object_names(prefixes, name_prefix),
            lambda tag_name, family, count: family_group_names(
                tag_name, family, name_prefix, count
            ),
            lambda family: f"{name_prefix}all-{family}",
            limit,
            "render.paloalto.group_member_limit",
        )
    return objectgroups.layout(
        tags,
        lambda prefixes: object_names(prefixes, name_prefix),
        lambda tag_name, count: group_names(tag_name, name_prefix, count),
        limit,
    )


def source_layout(options: PaloAltoOptions) -> Layout:
    """Address objects and static groups for ``sources`` (empty when the rule allows any).

    The groups are named ``<prefix>s-<rule>`` (``s-``: never a tag's ``g-`` group), numbered
    when the member limit splits them, shortened with a digest past 63 characters.
    """
    base = f"{options.name_prefix}s-{options.rule_name}"
    return objectgroups.layout(
        [("sources", options.sources)],
        lambda prefixes: object_names(prefixes, options.name_prefix),
        lambda _, count: numbered_names(base, options.rule_name, count, MAX_NAME),
        options.group_member_limit,
    )


def panos_layout(views: Sequence[TagView], options: PaloAltoOptions) -> Layout:
    return layout(
        [(v.name, v.prefixes) for v in views], options.name_prefix, options.group_member_limit
    )


def _plan(
    views: Sequence[TagView], changes: ChangeSet, options: PaloAltoOptions, current: Layout
) -> Plan:
    """The plan from the previous version's layout (rebuilt from the diff) to this one."""
    old_layout = layout(
        previous_prefixes(views, changes), options.name_prefix, options.group_member_limit
    )
    steps = plan(old_layout, current)
    # An address object that is also one of the sources stays: the rule's source group uses it.
    keep = source_layout(options).objects
    if any(name in keep for name, _ in steps.removed_objects):
        steps = dataclasses.replace(
            steps, removed_objects=[o for o in steps.removed_objects if o[0] not in keep]
        )
    return steps


def _context(selection: Selection, settings: RenderSettings) -> LazyContext:
    options = settings.get(PaloAltoOptions)
    changes = selection.changes
    # The full files and the incremental plan share one layout of this version.
    current = functools.cache(lambda: panos_layout(selection.tags, options))
    return {
        "panos": current,
        "panos_sources": lambda: source_layout(options),
        "panos_placement": lambda: placement(options.position),
        "plan": lambda: (
            None if changes is None else _plan(selection.tags, changes, options, current())
        ),
        "changes": lambda: changes,
    }


FORMAT = Format(
    name="paloalto",
    summary="PAN-OS set commands, XML snippet, EDL; incremental commands against a previous "
    "version",
    outputs=("paloalto/set-commands.txt", "paloalto/config.xml", "paloalto/edl.txt"),
    options=PaloAltoOptions,
    context=_context,
    incremental_outputs=("paloalto/incremental-set-commands.txt",),
)
