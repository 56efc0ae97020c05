"""The `tagsync render` command (placeholder until its issue lands)."""

from __future__ import annotations

from tagsync.commands.common import fail


def render() -> None:
    """Not available yet."""
    raise fail("tagsync render is not implemented yet", 2)
