"""The `tagsync history` command (placeholder until its issue lands)."""

from __future__ import annotations

from tagsync.commands.common import fail


def history() -> None:
    """Not available yet."""
    raise fail("tagsync history is not implemented yet", 2)
