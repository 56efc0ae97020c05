"""The `tagsync lookup` command (placeholder until its issue lands)."""

from __future__ import annotations

from tagsync.commands.common import fail


def lookup() -> None:
    """Not available yet."""
    raise fail("tagsync lookup is not implemented yet", 2)
