"""What decides a feed tree, known before the source file is parsed: the input key.

Same key, same bytes: an unchanged re-render compares the key with the first line of the
current ``index.json`` and stops there, so this module (and what it imports) is all such a run
loads of the feed code. The parse, aggregation and page modules load only when there is a tree
to build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.published import FROM_FILE_NAME, Publication, publication_date

if TYPE_CHECKING:
    from tagsync.store import SnapshotMeta

__all__ = ["FEED_FORMAT", "history_fingerprint", "input_key", "publication_of_source"]

FEED_FORMAT = 2  # bump when the tree's layout or file contents change for the same input


def input_key(parts: Mapping[str, Any]) -> str:
    """A digest of everything the tree depends on: same key, same bytes."""
    text = json.dumps(dict(parts, format=FEED_FORMAT), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def history_fingerprint(state_root: Path) -> list[list[Any]]:
    """(name, size, mtime) of every file in the kept history's manifest directory
    (``<state>/<cloud>/history/versions``, see tagsync.history.packs): changes whenever the
    history does, for the price of a directory listing, without loading tagsync.history."""
    found = []
    try:
        entries = list(os.scandir(state_root / "history" / "versions"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        found.append([entry.name, stat.st_size, stat.st_mtime_ns])
    return sorted(found)


def publication_of_source(
    source: str, meta: SnapshotMeta | None, sha256: str
) -> Publication | None:
    """The rendered version's publication without reading history: the accepted snapshot's
    record when it is that file, else the date in the file name. None when neither says
    (an unaccepted file named without a date: the tree must not depend on the day it runs).
    A kept version's own record, when the file is one, is applied later (feeds_history.Kept)."""
    if meta is not None and meta.sha256 == sha256:
        return Publication(date.fromisoformat(meta.published), meta.published_basis)
    named = publication_date(source)
    return Publication(named, FROM_FILE_NAME) if named is not None else None
