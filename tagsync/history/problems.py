"""How history reports trouble: the error for a damaged entry, and where warnings go.

History is best effort: a damaged entry is skipped and reported, and it never stops a command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tagsync.errors import DataError

__all__ = ["HistoryDamaged", "Warn", "warn_on_stderr"]

Warn = Callable[[str], None]


class HistoryDamaged(DataError):
    """A history entry that cannot be read back (corrupt, truncated, missing pack)."""


def warn_on_stderr(message: str) -> None:
    print(f"tagsync: warning: {message}", file=sys.stderr)
