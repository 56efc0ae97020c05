"""Removal grace: addresses a watched tag lost stay in every rendered allow-list for a while.

Microsoft withdraws ranges without notice, and a range withdrawn by mistake comes back a week
later (the Defender for Identity tag itself flapped: 68.211.0.152/29 added in June 2024, gone
eight days later). ``history: {removal_grace: 14d}`` (or ``2w``, ``36h``, or a number of
versions such as ``2``) keeps the addresses a tag lost in the allow-lists for that long,
counted from the version that dropped them: its publication date (or acceptance day when the
file name had no date) plus the duration, or until that many versions were accepted (the one
that dropped them included). Off by default.

Held addresses are exactly the lost ones (coverage arithmetic over the kept history), minus
whatever the tag covers again, never more; each carries when its grace ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

from tagsync.errors import ConfigError
from tagsync.kept import KeptVersion, Step, steps, subtract
from tagsync.prefixes import sort_prefixes

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.store import Store

__all__ = [
    "MAX_DURATION",
    "MAX_VERSIONS",
    "Grace",
    "Held",
    "Holds",
    "grace_setting",
    "held_addresses",
    "holds",
    "parse_grace",
]

MAX_DURATION = timedelta(days=366)
MAX_VERSIONS = 1000
_DURATION = re.compile(r"\s*([0-9]{1,5})\s*([hdw])\s*")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class Grace:
    """How long lost addresses stay: a duration, or a number of accepted versions."""

    duration: timedelta | None = None
    versions: int | None = None

    @property
    def text(self) -> str:
        if self.versions is not None:
            return f"{self.versions} version{'s' * (self.versions != 1)}"
        assert self.duration is not None
        hours = int(self.duration.total_seconds()) // 3600
        if hours % 24:
            return f"{hours}h"
        days = hours // 24
        return f"{days // 7}w" if days % 7 == 0 else f"{days}d"


class Held(NamedTuple):
    """A CIDR a tag lost that is still allowed, and when its grace ends: an ISO date (or
    date and hour, UTC) for a duration, "N more version(s)" for a number of versions."""

    cidr: str
    until: str

    @property
    def note(self) -> str:
        """The marker rendered beside it: "held until 2026-03-02 (removal grace)"."""
        if self.until[:1].isdigit() and "version" not in self.until:
            return f"held until {self.until} (removal grace)"
        return f"held for {self.until} (removal grace)"


@dataclass(frozen=True, slots=True)
class Holds:
    """What grace keeps for the version being rendered (``now``) and, for incremental outputs,
    what it kept for the version before it (``before``), per tag."""

    grace: Grace
    now: Mapping[str, tuple[Held, ...]]
    before: Mapping[str, tuple[str, ...]]

    def held(self, name: str) -> tuple[Held, ...]:
        return self.now.get(name, ())


def parse_grace(value: object, where: str) -> Grace | None:
    """A ``removal_grace`` value: ``14d``, ``2w``, ``36h``, a number of versions (``2``), or
    ``0``/``off``/``false``/null for none."""
    if value is None or value is False or value == 0 or value in ("off", "0"):
        return None
    if isinstance(value, bool):  # True: no amount given
        raise ConfigError(
            f"{where} must be a duration like 14d, 2w or 36h, or a number of versions"
        )
    if isinstance(value, int):
        if not 0 < value <= MAX_VERSIONS:
            raise ConfigError(f"{where} must be from 1 to {MAX_VERSIONS} versions, got {value}")
        return Grace(versions=value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is not None:
            duration = int(match[1]) * _UNITS[match[2]]
            if not timedelta(0) < duration <= MAX_DURATION:
                raise ConfigError(f"{where} {value!r:.40} must be more than 0 and at most 366d")
            return Grace(duration=duration)
    raise ConfigError(
        f"{where} {value!r:.40} must be a duration like 14d, 2w or 36h (hours, days, weeks), "
        "or a number of versions like 2"
    )


def grace_setting(config: Config) -> Grace | None:
    """``history: {removal_grace: ...}`` of the config (None: off). A grace counted in versions
    needs the history to keep one version more than it counts."""
    section = config.section("history")
    if not isinstance(section, dict):
        return None  # absent; a malformed section is history.keep_setting's to report
    where = f"{config.path or 'config'}: history.removal_grace"
    grace = parse_grace(section.get("removal_grace"), where)
    keep = section.get("keep")
    if grace is not None and isinstance(keep, int) and not isinstance(keep, bool):
        needed = (grace.versions or 1) + 1
        if keep < needed:
            raise ConfigError(
                f"{where} {grace.text} needs history.keep of at least {needed} "
                f"(the version before a loss must be kept to see it), got {keep}"
            )
    return grace


def _until(grace: Grace, version: KeptVersion, newer: int) -> tuple[datetime | None, str]:
    """When the grace of addresses lost in ``version`` ends: (end time, text), the time None
    for a count of versions; ``newer`` versions were accepted after it."""
    if grace.versions is not None:
        left = grace.versions - newer
        return None, f"{left} more version{'s' * (left != 1)}"
    assert grace.duration is not None
    start = datetime.combine(version.published.date, time(), tzinfo=UTC)
    end = start + grace.duration
    text = end.date().isoformat() if end.hour == 0 else end.strftime("%Y-%m-%dT%H:00Z")
    return end, text


def _held_at(
    versions: Sequence[KeptVersion],
    found: Mapping[str, list[Step]],
    grace: Grace,
    now: datetime,
    last: int,
) -> dict[str, tuple[Held, ...]]:
    """Held CIDRs per tag for the version at index ``last`` (steps after it are ignored)."""
    held: dict[str, tuple[Held, ...]] = {}
    for name, tag_steps in found.items():
        current = versions[last].prefixes(name)
        covered: list[str] = list(current)  # grows as newer losses claim their addresses
        pieces: list[Held] = []
        for step in reversed([s for s in tag_steps if s.index <= last and s.lost]):
            newer = last - step.index
            end, text = _until(grace, versions[step.index], newer)
            active = now < end if end is not None else newer < (grace.versions or 0)
            if not active:
                # Older losses end no later (publication dates and counts only grow).
                break
            own = subtract(step.lost, covered)
            pieces += [Held(cidr, text) for cidr in own]
            covered += own
        if pieces:
            order = {cidr: i for i, cidr in enumerate(sort_prefixes(p.cidr for p in pieces))}
            held[name] = tuple(sorted(pieces, key=lambda p: order[p.cidr]))
    return held


def holds(
    versions: Sequence[KeptVersion],
    names: Sequence[str],
    grace: Grace,
    now: datetime | None = None,
) -> Holds:
    """What grace holds for the last of ``versions`` (oldest first) and for the one before."""
    now = now or datetime.now(UTC)
    if not versions:
        return Holds(grace, {}, {})
    found = steps(versions, names)
    current = _held_at(versions, found, grace, now, len(versions) - 1)
    before: dict[str, tuple[str, ...]] = {}
    if len(versions) > 1:
        previous = _held_at(versions, found, grace, now, len(versions) - 2)
        before = {name: tuple(h.cidr for h in held) for name, held in previous.items()}
    return Holds(grace, current, before)


def held_addresses(
    store: Store, config: Config, now: datetime | None = None
) -> dict[str, list[Held]]:
    """For ``tagsync status``: per watched tag, the (CIDR, until) pairs grace holds for the
    accepted version, read from the kept history ({} when grace is off or nothing is held).

    ``until`` is an ISO date (or ``YYYY-MM-DDTHH:00Z``) for a duration, "N more version(s)"
    for a count of versions.
    """
    grace = grace_setting(config)
    if grace is None:
        return {}
    from tagsync.kept import kept_versions

    versions = kept_versions(store, list(config.tags), regions=config.regions)
    meta = store.meta()
    if meta is not None:
        for index in range(len(versions) - 1, -1, -1):
            if versions[index].sha256 == meta.sha256:
                versions = versions[: index + 1]
                break
    names = sorted({name for version in versions for name in version.tags})
    found = holds(versions, names, grace, now).now
    return {name: list(held) for name, held in sorted(found.items())}
