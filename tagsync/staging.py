"""What the kept history adds to a comparison: the new version's publication (deploy-by dates
count from it), the flaps it closes, and what removal grace holds in its allow-lists.

``check``, ``diff`` and ``render`` all compare or render one version against the accepted
snapshot; this module puts that version after the kept ones (or at its own place when it is
kept already) and asks :mod:`tagsync.flaps` and :mod:`tagsync.grace` about the sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from tagsync.published import Publication, publication_of

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet
    from tagsync.flaps import Flap
    from tagsync.grace import Grace, Holds
    from tagsync.model import ServiceTags
    from tagsync.store import Store

__all__ = ["publication_for", "staged"]


def publication_for(
    store: Store, service_tags: ServiceTags, source: str, now: datetime
) -> Publication:
    """The publication of ``service_tags``: the recorded one when it is the accepted snapshot,
    else from ``source``'s file name, else today (it would be accepted now), marked as such."""
    meta = store.meta()
    if meta is not None and meta.sha256 == service_tags.sha256:
        return Publication(date.fromisoformat(meta.published), meta.published_basis)
    return publication_of(source, now.replace(microsecond=0).isoformat())


def staged(
    store: Store,
    service_tags: ServiceTags,
    source: str,
    names: Sequence[str],
    *,
    changes: ChangeSet | None = None,
    grace: Grace | None = None,
    now: datetime | None = None,
) -> tuple[ChangeSet | None, Holds | None]:
    """``changes`` with the new version's publication and the flaps it closes among ``names``
    (exact tag names of ``service_tags``), and the grace holds for rendering it (None when
    grace is off). History is read only when something needs it."""
    from tagsync.kept import candidate_version, kept_versions, with_candidate

    now = now or datetime.now(UTC)
    published = publication_for(store, service_tags, source, now)
    looking = changes is not None and changes.coverage_changed
    if not looking and grace is None:
        return (None if changes is None else replace(changes, published=published)), None
    present = [name for name in names if name in service_tags.tags]
    candidate = candidate_version(service_tags, present, published)
    versions = with_candidate(kept_versions(store, present), candidate)
    if changes is not None:
        flaps: tuple[Flap, ...] = ()
        if looking:
            from tagsync.flaps import find_flaps

            flaps = find_flaps(versions, present, last_only=True)
        changes = replace(changes, published=published, flaps=flaps)
    holds = None
    if grace is not None:
        from tagsync.grace import holds as grace_holds

        holds = grace_holds(versions, present, grace, now)
    return changes, holds
