"""Flaps: addresses a watched tag lost and regained, or gained and lost, within the kept history.

A range that comes and goes is a warning sign: either Microsoft published it by mistake (the
Defender for Identity tag gained 68.211.0.152/29 in June 2024 and lost it eight days later),
or a firewall that followed every week opened and closed it for nothing. Steps are compared by
the addresses they cover (:mod:`tagsync.kept`), so a re-aggregation is never a flap.

For each address, its gains and losses alternate; a flap is two consecutive ones (gained, then
lost; or lost, then gained), reported per CIDR with both versions and publication dates.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from tagsync.kept import KeptVersion, Step, intersect, steps, subtract
from tagsync.published import Publication

__all__ = ["Flap", "Moment", "find_flaps"]


@dataclass(frozen=True, slots=True)
class Moment:
    """A version as a flap names it: changeNumber and publication."""

    change_number: int
    published: Publication

    @property
    def text(self) -> str:
        day = self.published.date.isoformat()
        if self.published.is_from_file_name:
            return f"changeNumber {self.change_number} (published {day})"
        return f"changeNumber {self.change_number} (published ≈ accepted {day})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_number": self.change_number,
            "published": self.published.date.isoformat(),
            "published_basis": self.published.basis,
        }


@dataclass(frozen=True, slots=True)
class Flap:
    """One CIDR of a tag that went one way in ``first`` and back in ``second``."""

    tag: str
    cidr: str
    first_change: str  # "gained" or "lost"
    first: Moment
    second: Moment

    @property
    def second_change(self) -> str:
        return "lost" if self.first_change == "gained" else "gained"

    @property
    def days(self) -> int:
        return (self.second.published.date - self.first.published.date).days

    @property
    def text(self) -> str:
        """One line: "TAG 1.2.3.0/29: gained in changeNumber 364 (published 2025-07-28), lost
        in changeNumber 365 (published 2025-08-04), 7 days later"."""
        return (
            f"{self.tag} {self.cidr}: {self.first_change} in {self.first.text}, "
            f"{self.second_change} in {self.second.text}, "
            f"{self.days} day{'s' * (self.days != 1)} later"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "cidr": self.cidr,
            self.first_change: self.first.to_dict(),
            self.second_change: self.second.to_dict(),
            "days": self.days,
        }


def _moment(version: KeptVersion) -> Moment:
    return Moment(version.change_number, version.published)


def _tag_flaps(
    name: str, versions: Sequence[KeptVersion], tag_steps: Sequence[Step], ending: int | None
) -> list[Flap]:
    flaps: list[Flap] = []
    for position, step in enumerate(tag_steps):
        for kind, cidrs in (("gained", step.gained), ("lost", step.lost)):
            remaining: list[str] = list(cidrs)
            for later in tag_steps[position + 1 :]:
                if not remaining:
                    break
                back = later.lost if kind == "gained" else later.gained
                if not back:
                    continue
                both = intersect(remaining, back)
                if both and (ending is None or later.index == ending):
                    first, second = _moment(versions[step.index]), _moment(versions[later.index])
                    flaps += [Flap(name, cidr, kind, first, second) for cidr in both]
                # The next change of these addresses is this one: later ones pair with it.
                remaining = subtract(remaining, back)
    return flaps


def find_flaps(
    versions: Sequence[KeptVersion], names: Collection[str], *, last_only: bool = False
) -> tuple[Flap, ...]:
    """The flaps of the tags ``names`` over ``versions`` (oldest first), by tag then by the
    version that started them; with ``last_only``, only those the last version closes (what a
    report on that version is news about)."""
    found = steps(versions, names)
    ending = len(versions) - 1 if last_only else None
    flaps: list[Flap] = []
    for name in sorted(found):
        flaps += _tag_flaps(name, versions, found[name], ending)
    return tuple(flaps)
