"""The `tagsync check` command (placeholder until its issue lands)."""

from __future__ import annotations

from tagsync.commands.common import fail


def check() -> None:
    """Not available yet."""
    raise fail("tagsync check is not implemented yet", 2)
