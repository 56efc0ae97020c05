"""A version cut down to the watched tags: a small baseline to commit instead of the 4 MB file.

The sample GitHub workflow keeps no state directory between runs (a repository should not grow
by megabytes a week). It commits this file instead and rebuilds the state from it with
``tagsync update --file``: same top-level ``changeNumber`` and ``cloud``, and the watched tags'
entries exactly as Microsoft published them, so the next ``check`` compares the watched tags
with what was last merged. The tags are the ones ``check`` resolved (aliases, profile,
``--regions``), so the file always matches what was rendered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["watched_document"]


def watched_document(data: bytes, names: Sequence[str]) -> bytes:
    """``data`` (a validated service tags file) with only the tags in ``names``, in file order,
    as 2-space indented JSON with a final LF: byte-identical for the same input."""
    document = json.loads(data)
    wanted = set(names)
    baseline = {
        "changeNumber": document["changeNumber"],
        "cloud": document["cloud"],
        "values": [value for value in document["values"] if value.get("name") in wanted],
    }
    return (json.dumps(baseline, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
