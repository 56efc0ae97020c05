"""Safety guards that refuse suspicious versions: rollbacks and mass removals of prefixes."""

from __future__ import annotations

from tagsync.diff import ChangeSet
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
    """Refuse a version that drops more than ``max_ratio`` of any compared tag's prefixes."""
    offenders = []
    for name in sorted(changes.tags):
        change = changes.tags[name]
        if change.old_count and len(change.removed) / change.old_count > max_ratio:
            offenders.append(
                f"{name} would lose {len(change.removed)} of {change.old_count} prefixes"
            )
    if offenders:
        raise GuardError(
            f"{source}: refusing mass removal over {max_ratio:.0%}: {'; '.join(offenders)}; "
            "use --force if this is intended"
        )
