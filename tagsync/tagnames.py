"""Select tags by name: exact, else case-insensitive (as Azure does), regional variants, and
close-match suggestions for a name that is not there."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from tagsync.errors import UnknownTagError
from tagsync.model import ServiceTags, Tag

__all__ = [
    "find_tag",
    "match_tag_name",
    "regional_variants",
    "resolve_tags",
    "suggestion_hint",
]


def regional_variants(service_tags: ServiceTags, base: str) -> list[str]:
    """Names of the regional variants of ``base`` (e.g. AzureCloud.westeurope), sorted.

    Case-insensitive, like Azure itself: the file spells AzureCloud regions in lower case
    (``AzureCloud.westeurope``) but most others in camel case (``Storage.WestEurope``).
    """
    prefix = base.lower() + "."
    return sorted(name for name in service_tags.tags if name.lower().startswith(prefix))


def match_tag_name(known: Collection[str], name: str) -> str | None:
    """The spelling of ``name`` among ``known``: an exact match, else the only
    case-insensitive match (Azure treats tag names case-insensitively)."""
    if name in known:
        return name
    folded = name.lower()
    matches = [candidate for candidate in known if candidate.lower() == folded]
    return matches[0] if len(matches) == 1 else None


def suggestion_hint(known: Iterable[str], name: str) -> str:
    """ "; did you mean A, B?" with up to three close matches among ``known``, or ""."""
    by_lower = {candidate.lower(): candidate for candidate in known}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(by_lower[m] for m in matches)}?" if matches else ""


def find_tag(service_tags: ServiceTags, name: str) -> Tag | None:
    """The tag called ``name``: an exact match, else the only case-insensitive match."""
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
        tag = find_tag(service_tags, name)
        if tag is None:
            raise UnknownTagError(_unknown_tag_message(service_tags, name))
        selected[tag.name] = tag
        if regions:
            for variant in regional_variants(service_tags, name):
                selected[variant] = service_tags.tags[variant]
    return list(selected.values())


def _unknown_tag_message(service_tags: ServiceTags, name: str) -> str:
    where = service_tags.source or service_tags.cloud
    return f"{where}: no tag named {name!r:.80}{suggestion_hint(service_tags.tags, name)}"
