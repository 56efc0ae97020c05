"""`tagsync status`: what one state directory holds per cloud, and the last `check` result.

Per cloud: the accepted version (changeNumber, publication date and how it is known, when it
was accepted, where from), the watched tags with prefix and address counts, the versions
whose deploy-by date (publication + 7 days) is still ahead with the addresses they gained,
what removal grace holds (tagsync.grace) and the last `check` (``last-check.json``, written by
:func:`record_check_result`).

Only the newest kept versions are read (as far back as deploy-by dates are pending), so the
answer stays quick however much history is kept.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tagsync.atomic import atomic_write_text
from tagsync.coverage import AddressCounts, address_counts, diff_coverages
from tagsync.errors import EXIT_CHANGED, EXIT_OK, TagsyncError
from tagsync.prefixes import split_families
from tagsync.published import deploy_by

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.history.manifests import VersionInfo
    from tagsync.history.packs import History
    from tagsync.model import ServiceTags
    from tagsync.store import SnapshotMeta, Store

__all__ = [
    "LAST_CHECK",
    "CloudStatus",
    "Pending",
    "TagCounts",
    "cloud_status",
    "read_last_check",
    "record_check_result",
    "records_check_result",
    "tag_counts",
]

LAST_CHECK = "last-check.json"
P = ParamSpec("P")
R = TypeVar("R")


# --- the last check ---------------------------------------------------------------------------
def record_check_result(store_or_root: Store | Path, result: str, exit_code: int, at: str) -> None:
    """Write ``<state>/<cloud>/last-check.json`` atomically (``store_or_root``: the Store or
    its cloud directory). ``result``: "unchanged", "changed" or "failed: <message>"."""
    root = store_or_root if isinstance(store_or_root, Path) else store_or_root.root
    document = {"result": result, "exit_code": exit_code, "at": at}
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / LAST_CHECK, json.dumps(document, indent=2) + "\n")


def records_check_result(run: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``runner.run_check`` so every run, finished or failed, is recorded for status.

    The wrapped function takes ``cloud`` and ``state_dir`` and returns an object with
    ``exit_code``; a TagsyncError is recorded with its exit code and raised again.
    """
    import inspect

    signature = inspect.signature(run)

    @functools.wraps(run)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs).arguments
        root = Path(bound["state_dir"]) / bound["cloud"].name
        try:
            outcome = run(*args, **kwargs)
        except TagsyncError as exc:
            _record_quietly(root, f"failed: {exc.message}", exc.exit_code)
            raise
        code = int(getattr(outcome, "exit_code", EXIT_OK))
        _record_quietly(root, "changed" if code == EXIT_CHANGED else "unchanged", code)
        return outcome

    return wrapper


def _record_quietly(root: Path, result: str, exit_code: int) -> None:
    # The check's own outcome matters more than its record: a full disk must not change it.
    try:
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        record_check_result(root, result, exit_code, at)
    except OSError:
        pass


def read_last_check(root: Path) -> dict[str, Any] | None:
    """The recorded last check of a cloud directory (None: never run, or unreadable)."""
    try:
        document = json.loads((root / LAST_CHECK).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not {"result", "exit_code", "at"} <= set(document):
        return None
    return {key: document[key] for key in ("result", "exit_code", "at")}


# --- the status of one cloud ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TagCounts:
    name: str
    present: bool
    prefixes: AddressCounts  # prefix counts per family (same shape as address counts)
    addresses: AddressCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "present": self.present,
            "prefixes": self.prefixes.to_dict(),
            "addresses": self.addresses.to_dict(),
        }


def tag_counts(service_tags: ServiceTags, name: str) -> TagCounts:
    """One watched tag's prefix and (merged) address counts; absent tags count zero."""
    from tagsync.tagnames import find_tag

    tag = find_tag(service_tags, name)
    prefixes = tag.prefixes if tag is not None else ()
    v4, v6 = split_families(prefixes)
    return TagCounts(
        tag.name if tag is not None else name,
        tag is not None,
        AddressCounts(len(v4), len(v6)),
        address_counts(prefixes),
    )


@dataclass(frozen=True, slots=True)
class Pending:
    """A kept version whose deploy-by date is still ahead, and what the watched tags gained."""

    change_number: int
    published: str
    published_basis: str
    deploy_by: str
    gained: dict[str, tuple[str, ...]]  # tag -> CIDRs; empty when nothing was gained
    gained_addresses: AddressCounts
    compared: bool  # False: no earlier kept version to compare with

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_number": self.change_number,
            "published": self.published,
            "published_basis": self.published_basis,
            "deploy_by": self.deploy_by,
            "compared_with_previous": self.compared,
            "gained": {name: list(cidrs) for name, cidrs in self.gained.items()},
            "gained_addresses": self.gained_addresses.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class CloudStatus:
    cloud: str
    root: Path
    accepted: SnapshotMeta | None
    kept_versions: int
    tags: tuple[TagCounts, ...]
    pending: tuple[Pending, ...]
    held: dict[str, list[tuple[str, str]]]  # tag -> (CIDR, until) held by removal grace
    grace: str | None  # the removal_grace setting as text, None when off
    last_check: dict[str, Any] | None
    problems: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        meta = self.accepted
        accepted = None
        if meta is not None:
            accepted = {
                "change_number": meta.change_number,
                "published": meta.published,
                "published_basis": meta.published_basis,
                "deploy_by": deploy_by(date.fromisoformat(meta.published)).isoformat(),
                "accepted_at": meta.accepted_at,
                "source": meta.source,
                "sha256": meta.sha256,
                "tag_count": meta.tag_count,
            }
        return {
            "cloud": self.cloud,
            "state_dir": str(self.root),
            "accepted": accepted,
            "kept_versions": self.kept_versions,
            "tags": [tag.to_dict() for tag in self.tags],
            "pending_deploy_by": [pending.to_dict() for pending in self.pending],
            "removal_grace": self.grace,
            "held": {
                name: [{"cidr": cidr, "until": until} for cidr, until in held]
                for name, held in self.held.items()
            },
            "last_check": self.last_check,
        }


def cloud_status(
    store: Store, config: Config, names: Sequence[str], today: date | None = None
) -> CloudStatus:
    """Everything `status` shows for one cloud; ``names`` are the watched tags."""
    from tagsync.history import history_of
    from tagsync.tagnames import regional_variants

    today = today or datetime.now(UTC).date()
    meta = store.meta()
    loaded = store.load_accepted(check_all_prefixes=False) if meta is not None else None
    watched = list(dict.fromkeys(names))
    counts: list[TagCounts] = []
    if loaded is not None:
        service_tags = loaded.service_tags
        if config.regions:
            for name in names:
                watched += [v for v in regional_variants(service_tags, name) if v not in watched]
        counts = [tag_counts(service_tags, name) for name in watched]
    history = history_of(store)
    problems: list[str] = []
    pending = _pending(history, meta, watched, today, problems)
    grace_text, held = _held(store, config)
    return CloudStatus(
        cloud=store.cloud.name,
        root=store.root,
        accepted=meta,
        kept_versions=len(history.manifest_paths()),
        tags=tuple(counts),
        pending=tuple(pending),
        held=held,
        grace=grace_text,
        last_check=read_last_check(store.root),
        problems=tuple(problems),
    )


def _pending(
    history: History,
    meta: SnapshotMeta | None,
    names: Sequence[str],
    today: date,
    problems: list[str],
) -> list[Pending]:
    """Kept versions up to the snapshot whose deploy-by is after ``today``, oldest first, each
    with what it gained over the kept version before it."""
    from tagsync.history import HistoryDamaged

    if meta is None:
        return []
    # Newest first, from the snapshot's own entry; stop at the first version already deployable
    # (publication order), which is the base of the oldest pending one.
    chain: list[VersionInfo] = []
    reached_snapshot = False
    for seq, path in reversed(history.manifest_paths()):
        try:
            info = history.read(seq, path)
        except HistoryDamaged as exc:
            problems.append(f"{exc.message}; skipped")
            continue
        reached_snapshot = reached_snapshot or info.sha256 == meta.sha256
        if not reached_snapshot:
            continue
        chain.append(info)
        if deploy_by(date.fromisoformat(info.published)) <= today:
            break
    if not chain:  # the snapshot is not in the history (history off or enabled later)
        if deploy_by(date.fromisoformat(meta.published)) <= today:
            return []
        return [
            Pending(
                meta.change_number,
                meta.published,
                meta.published_basis,
                deploy_by(date.fromisoformat(meta.published)).isoformat(),
                {},
                AddressCounts(),
                compared=False,
            )
        ]
    chain.reverse()
    return _gains(history, chain, names, today, problems)


def _gains(
    history: History,
    chain: list[VersionInfo],
    names: Sequence[str],
    today: date,
    problems: list[str],
) -> list[Pending]:
    from tagsync.history import HistoryDamaged
    from tagsync.kept import version_tags

    def watched(info: VersionInfo) -> dict[str, frozenset[str]] | None:
        try:
            return version_tags(history, info, names)
        except HistoryDamaged as exc:
            problems.append(f"{exc.message}; skipped")
            return None

    found: list[Pending] = []
    previous: dict[str, frozenset[str]] | None = None
    for info in chain:
        current = watched(info)
        due = deploy_by(date.fromisoformat(info.published))
        if current is not None and due > today:
            gained: dict[str, tuple[str, ...]] = {}
            total = AddressCounts()
            if previous is not None:
                pairs = {
                    name: (previous.get(name, frozenset()), prefixes)
                    for name, prefixes in current.items()
                    if prefixes != previous.get(name, frozenset())
                }
                for name, coverage in diff_coverages(pairs).items():
                    if coverage.gained:
                        gained[name] = coverage.gained
                        total = total + coverage.gained_addresses
            found.append(
                Pending(
                    info.change_number,
                    info.published,
                    info.published_basis,
                    due.isoformat(),
                    gained,
                    total,
                    compared=previous is not None,
                )
            )
        previous = current if current is not None else previous
    return found


def _held(store: Store, config: Config) -> tuple[str | None, dict[str, list[tuple[str, str]]]]:
    """What removal grace holds (tagsync.grace, when present and on): (setting, held)."""
    try:
        from tagsync import grace
    except ImportError:  # grace is optional: status then shows nothing held
        return None, {}
    setting = grace.grace_setting(config)
    if setting is None:
        return None, {}
    found = grace.held_addresses(store, config)
    return setting.text, {
        name: [(item.cidr, item.until) for item in items] for name, items in found.items()
    }
