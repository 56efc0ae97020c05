"""Safety guards that refuse suspicious versions: rollbacks and mass removals of addresses."""

from __future__ import annotations

from tagsync.coverage import AddressCounts, Coverage, count_text
from tagsync.diff import ChangeSet, TagChange
from tagsync.errors import GuardError

__all__ = ["check_mass_removal", "check_rollback"]


def check_rollback(old_change_number: int | None, new_change_number: int, source: str) -> None:
    """Refuse a file older than the accepted one (a stale mirror or cache serving old data).

    Equal numbers are allowed: Microsoft has published different files under one changeNumber.
    """
    if old_change_number is not None and new_change_number < old_change_number:
        raise GuardError(
            f"{source}: changeNumber {new_change_number} is lower than the accepted "
            f"{old_change_number} (rolled-back data?); use --allow-rollback to accept it"
        )


def check_mass_removal(changes: ChangeSet, max_ratio: float, source: str) -> None:
    """Refuse a version in which any compared tag loses more than ``max_ratio`` of its IPv4
    addresses or of its IPv6 addresses.

    Addresses, not prefix texts: a re-aggregation can replace most of a tag's texts with a few
    larger prefixes and lose nothing, while a real loss can hide in a handful of texts.
    """
    offenders = [
        _loss_text(name, changes.tags[name])
        for name in sorted(changes.tags)
        if _worst_loss(changes.tags[name].coverage) > max_ratio
    ]
    if offenders:
        raise GuardError(
            f"{source}: refusing mass removal (over {max_ratio:.0%} of a tag's IPv4 or IPv6 "
            f"addresses): {'; '.join(offenders)}; use --force if this is intended"
        )


def _ratio(lost: int, total: int) -> float:
    return lost / total if total else 0.0


def _worst_loss(coverage: Coverage) -> float:
    lost, total = coverage.lost_addresses, coverage.old_addresses
    if total is None:  # counted whenever something was lost
        return 0.0
    return max(_ratio(lost.ipv4, total.ipv4), _ratio(lost.ipv6, total.ipv6))


def _loss_text(name: str, change: TagChange) -> str:
    lost, total = change.coverage.lost_addresses, change.coverage.old_addresses or AddressCounts()
    families = " and ".join(
        f"{count_text(part)} of {count_text(whole)} {family} addresses ({_ratio(part, whole):.1%})"
        for family, part, whole in (
            ("IPv4", lost.ipv4, total.ipv4),
            ("IPv6", lost.ipv6, total.ipv6),
        )
        if whole
    )
    if change.new_change_number is None and change.old_change_number is not None:
        # The whole tag is gone from the new file: say so, a renamed or withdrawn tag is a
        # different problem from a shrinking one.
        return (
            f"watched tag {name} is not in the new version (all {change.old_count} prefixes, "
            f"{families} would go)"
        )
    return f"{name} would lose {len(change.removed)} of {change.old_count} prefixes, {families}"
