"""Questions asked of the kept versions: what changed in one tag, and the version K updates back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.errors import ConfigError, DataError, UnknownTagError
from tagsync.history.packs import History, history_of
from tagsync.history.problems import HistoryDamaged, Warn, warn_on_stderr
from tagsync.prefixes import sort_prefixes
from tagsync.tagnames import match_tag_name, suggestion_hint

if TYPE_CHECKING:
    from tagsync.history.manifests import VersionInfo
    from tagsync.model import ServiceTags, Tag
    from tagsync.store import Store

__all__ = ["TagHistory", "TagVersion", "tag_history", "version_back"]


@dataclass(frozen=True, slots=True)
class TagVersion:
    """One tag in one kept version, compared with the previous readable kept version."""

    seq: int
    change_number: int
    accepted_at: str
    present: bool
    tag_change_number: int | None
    prefix_count: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    first: bool  # no earlier kept version to compare with
    published: str = ""  # ISO date the version was published (see tagsync.published)
    published_basis: str = ""  # "file-name" or "accepted" (the acceptance day stands in)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_number": self.change_number,
            "accepted_at": self.accepted_at,
            "published": self.published,
            "published_basis": self.published_basis,
            "present": self.present,
            "tag_change_number": self.tag_change_number,
            "prefix_count": self.prefix_count,
            "first_kept": self.first,
            "added": list(self.added),
            "removed": list(self.removed),
        }


@dataclass(frozen=True, slots=True)
class TagHistory:
    """The kept versions of one tag, newest first, and the damaged entries skipped."""

    cloud: str
    name: str
    versions: tuple[TagVersion, ...]
    problems: tuple[str, ...] = ()


def tag_history(history: History, name: str) -> TagHistory:
    """Per kept version (newest first): the tag's changeNumber and prefixes added/removed."""
    versions, problems = history.versions()
    if not versions:
        raise DataError(
            f"{history.root}: no kept versions yet (history starts with the next accepted update)"
        )
    exact = _resolve_name(versions, name, history.root)
    rows: list[TagVersion] = []
    previous: set[str] | None = None
    for info in versions:
        tag: Tag | None = None
        if exact in info.tags:
            try:
                tag = history.tag(info, exact)
            except HistoryDamaged as exc:
                problems.append(f"{exc.message}; skipped")
                continue
        current = set(tag.prefixes) if tag else set()
        first = previous is None
        base = previous or set()
        rows.append(
            TagVersion(
                seq=info.seq,
                change_number=info.change_number,
                accepted_at=info.accepted_at,
                present=tag is not None,
                tag_change_number=tag.change_number if tag else None,
                prefix_count=len(current),
                added=() if first else tuple(sort_prefixes(current - base)),
                removed=() if first else tuple(sort_prefixes(base - current)),
                first=first,
                published=info.published,
                published_basis=info.published_basis,
            )
        )
        previous = current
    cloud = versions[-1].cloud
    return TagHistory(cloud, exact, tuple(reversed(rows)), tuple(problems))


def _resolve_name(versions: list[VersionInfo], name: str, root: Path) -> str:
    """The exact spelling of ``name`` in the kept versions (newest spelling wins)."""
    for info in reversed(versions):
        if name in info.tags:
            return name
    for info in reversed(versions):
        spelling = match_tag_name(info.tags, name)
        if spelling is not None:
            return spelling
    hint = suggestion_hint([n for info in versions for n in info.tags], name)
    raise UnknownTagError(f"{root}: no tag named {name!r:.80} in any kept version{hint}")


def version_back(store: Store, steps: int, warn: Warn = warn_on_stderr) -> ServiceTags:
    """The kept version accepted ``steps`` updates before the current snapshot.

    1 is the version accepted just before the snapshot. Counting starts at the snapshot's own
    entry; when the snapshot is not in the history (history enabled later, or not recorded),
    1 is the newest kept version.
    """
    if steps < 1:
        raise ConfigError(f"--from-history must be 1 or more, got {steps}")
    history = history_of(store)
    versions, problems = history.versions()
    for problem in problems:
        warn(problem)
    meta = store.meta()
    position = len(versions)
    if meta is not None:
        for index in range(len(versions) - 1, -1, -1):
            if versions[index].sha256 == meta.sha256:
                position = index
                break
    wanted = position - steps
    if wanted < 0:
        older = position
        raise DataError(
            f"{history.root}: only {older} kept version(s) older than the snapshot, "
            f"cannot go back {steps}"
        )
    return history.load(versions[wanted])
