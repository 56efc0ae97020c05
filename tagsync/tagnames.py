"""Select tags by name, as people write them: the exact name, else the one name equal but for
case (as Azure does), else another spelling (``Azure Cosmos DB``, ``Defender for Endpoint``),
a common product name (``MDI``, ``Azure ATP``) or the initials (``AATP``) of exactly one tag;
regional variants; and close-match suggestions for a name that is none of these.

A name taken by anything but its case is reported in a note, so scripts can be fixed to the
name the file uses (the note is only shown with ``-v`` for names from a config file: cron
mails every line a quiet run prints).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path

from tagsync.errors import UnknownTagError
from tagsync.model import ServiceTags, Tag
from tagsync.origin import written_at
from tagsync.suggest import close_matches
from tagsync.suggest import suggestion_hint as suggestion_hint  # re-exported for its callers

__all__ = [
    "ALIASES",
    "describe_version",
    "find_tag",
    "match_tag_name",
    "regional_variants",
    "resolve_tags",
    "suggestion_hint",
]

# Product names in use for a service whose tag is named otherwise, by their folded form
# (lower case; spaces, '-' and '_' removed). Microsoft renamed Azure ATP to Microsoft Defender
# for Identity (MDI; MicrosoftDocs/defender-docs, and Microsoft's DefenderForIdentity module
# lists AATP, AzureATP, MDI); Microsoft/Windows Defender ATP became Defender for Endpoint;
# Azure AD became Entra ID; Azure Security Center became Defender for Cloud; Cloud App
# Security became Defender for Cloud Apps; Windows Virtual Desktop became Azure Virtual Desktop.
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "azureatp",
            "atp",
            "mdi",
            "defenderforidentity",
            "microsoftdefenderforidentity",
        ),
        "AzureAdvancedThreatProtection",
    ),
    **dict.fromkeys(
        (
            "mde",
            "defenderforendpoint",
            "mdatp",
            "wdatp",
            "defenderatp",
            "microsoftdefenderatp",
            "windowsdefenderatp",
        ),
        "MicrosoftDefenderForEndpoint",
    ),
    **dict.fromkeys(
        ("aad", "azuread", "entra", "entraid", "microsoftentraid"), "AzureActiveDirectory"
    ),
    **dict.fromkeys(
        ("mdc", "defenderforcloud", "microsoftdefenderforcloud"), "AzureSecurityCenter"
    ),
    **dict.fromkeys(
        ("mcas", "mdca", "defenderforcloudapps", "microsoftdefenderforcloudapps"),
        "MicrosoftCloudAppSecurity",
    ),
    **dict.fromkeys(("sentinel", "microsoftsentinel"), "AzureSentinel"),
    **dict.fromkeys(("avd", "azurevirtualdesktop"), "WindowsVirtualDesktop"),
}
_COMPANIES = ("azure", "microsoft")  # product names are written with and without these
_MIN_INITIALS = 3  # two letters name too many tags (AC: AzureCloud, AzureConnectors, ...)
_SEPARATORS = re.compile(r"[\s_-]+")

_ALIAS = "a common name for it"
_SPELLING = "another spelling of it"
_INITIALS = "its initials"


def regional_variants(service_tags: ServiceTags, base: str) -> list[str]:
    """Names of the regional variants of ``base`` (e.g. AzureCloud.westeurope), sorted.

    Case-insensitive, like Azure itself: the file spells AzureCloud regions in lower case
    (``AzureCloud.westeurope``) but most others in camel case (``Storage.WestEurope``).
    """
    prefix = base.lower() + "."
    return sorted(name for name in service_tags.tags if name.lower().startswith(prefix))


def _folded(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


def _initials(name: str) -> str:
    return "".join(c for c in name if c.isupper() or c.isdigit()).lower()


def _same_but_case(known: Collection[str], name: str) -> list[str]:
    if name in known:
        return [name]
    folded = name.lower()
    return [candidate for candidate in known if candidate.lower() == folded]


def _base_match(known: Collection[str], base: str) -> tuple[list[str], str]:
    """Base tag names (no region) ``base`` stands for, and how: an alias, another spelling or
    the initials. More than one name: ambiguous (they become suggestions)."""
    key = _folded(base)
    bases = [name for name in known if "." not in name]
    alias = ALIASES.get(key)
    if alias is not None:
        found = _same_but_case(bases, alias)
        if found:
            return found, _ALIAS
    variants = {key, *(c + key for c in _COMPANIES)}
    variants |= {key.removeprefix(c) for c in _COMPANIES if key.startswith(c)}
    spelled = [name for name in bases if _folded(name) in variants]
    if spelled:
        return spelled, _SPELLING
    if len(key) >= _MIN_INITIALS and key.isalnum():
        return [name for name in bases if _initials(name) == key], _INITIALS
    return [], ""


def _candidates(known: Collection[str], name: str) -> tuple[list[str], str]:
    """The names in ``known`` that ``name`` may stand for, and how ("" for exact or case)."""
    same = _same_but_case(known, name)
    if same:
        return same, ""
    base, dot, region = name.partition(".")
    found, how = _base_match(known, base)
    if dot:
        found = [v for b in found for v in _same_but_case(known, f"{b}.{region}")]
    return found, how


def _lookup(known: Collection[str], name: str) -> tuple[str | None, str]:
    found, how = _candidates(known, name)
    return (found[0], how) if len(found) == 1 else (None, how)


def match_tag_name(known: Collection[str], name: str) -> str | None:
    """The spelling of ``name`` among ``known``: an exact match, else the only one equal but
    for case (Azure treats tag names case-insensitively), else the only tag it is another
    spelling, a common name or the initials of."""
    return _lookup(known, name)[0]


def find_tag(service_tags: ServiceTags, name: str) -> Tag | None:
    """The tag called ``name`` (see :func:`match_tag_name`)."""
    spelling = match_tag_name(service_tags.tags, name)
    return None if spelling is None else service_tags.tags[spelling]


def resolve_tags(
    service_tags: ServiceTags, names: Iterable[str], *, regions: bool = False
) -> list[Tag]:
    """Look up tags by name (adding regional variants with ``regions``), in a stable order.

    An unknown name raises :class:`UnknownTagError` with close matches, so a typo in a cron
    config fails loudly instead of producing an empty allow-list.
    """
    selected: dict[str, Tag] = {}
    for name in names:
        spelling, how = _lookup(service_tags.tags, name)
        if spelling is None:
            raise UnknownTagError(_unknown_tag_message(service_tags, name))
        if how:
            _note_taken_as(name, spelling, how)
        selected[spelling] = service_tags.tags[spelling]
        if regions:
            for variant in regional_variants(service_tags, spelling):
                selected[variant] = service_tags.tags[variant]
    return list(selected.values())


def _note_taken_as(name: str, spelling: str, how: str) -> None:
    import logging

    from tagsync.logs import NOTICE, get_logger

    level = logging.INFO if written_at(name) else NOTICE
    get_logger().log(level, f"{name!r:.80} taken as {spelling} ({how})")


def describe_version(service_tags: ServiceTags) -> str:
    """``the accepted version 376 of public``, or ``FILE (version 376 of public)``."""
    from tagsync.clouds import cloud_for_file

    cloud = cloud_for_file(service_tags.cloud)
    version = (
        f"version {service_tags.change_number} of {cloud.name if cloud else service_tags.cloud}"
    )
    source = service_tags.source
    # The store keeps the accepted file as data/<sha256>.json: its path means nothing to users.
    if not source or Path(source).name == f"{service_tags.sha256}.json":
        return f"the accepted {version}"
    return f"{source} ({version})"


def _unknown_tag_message(service_tags: ServiceTags, name: str) -> str:
    where = written_at(name)
    blame = f"{where}: " if where else ""
    ambiguous, _ = _candidates(service_tags.tags, name)
    alias = ALIASES.get(_folded(name.partition(".")[0]))
    meant = f" ({alias})" if alias and not ambiguous else ""
    suggestions = list(dict.fromkeys([*ambiguous, *close_matches(name, service_tags.tags)]))[:3]
    hint = (
        f"; did you mean {', '.join(suggestions)}?"
        if suggestions
        else "; `tagsync tags` lists the tag names"
    )
    return f"{blame}no tag named {name!r:.80}{meant} in {describe_version(service_tags)}{hint}"
