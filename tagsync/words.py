"""Counts with the right noun form for messages people read: "1 file", "2 files"."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, noun: str, plural: str = "") -> str:
    """A count with its noun: "1 CIDR", "2 CIDRs", "2 prefixes" (``plural`` when not noun+s)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
