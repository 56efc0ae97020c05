"""Did-you-mean suggestions for a word that is not among the known choices.

One module for config keys, format names and tag names, so every message suggests the same
way: close spellings ignoring case (difflib's ratio, cutoff 0.6), else the one choice that
starts with the word (``nft`` for ``nftables``, too short for a close spelling).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean", "suggestion_hint", "unknown_keys"]

_CUTOFF = 0.6


def close_matches(word: str, choices: Iterable[object], *, limit: int = 3) -> list[str]:
    """Up to ``limit`` of ``choices`` close to ``word``, best first, spelled as in ``choices``."""
    by_folded: dict[str, str] = {}
    for choice in map(str, choices):
        by_folded.setdefault(choice.lower(), choice)
    folded = word.lower()
    matches = difflib.get_close_matches(folded, list(by_folded), n=limit, cutoff=_CUTOFF)
    if not matches and len(folded) >= 2:
        starting = [choice for choice in by_folded if choice.startswith(folded)]
        matches = starting if len(starting) == 1 else []
    return [by_folded[match] for match in matches]


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """`` (did you mean X?)`` for the best near miss among ``choices``, else ``""``."""
    best = close_matches(word, choices, limit=1)
    return f" (did you mean {best[0]}?)" if best else ""


def suggestion_hint(choices: Iterable[object], word: str) -> str:
    """``; did you mean A, B?`` with up to three near misses among ``choices``, else ``""``."""
    matches = close_matches(word, choices)
    return f"; did you mean {', '.join(matches)}?" if matches else ""


def unknown_keys(unknown: Iterable[object], known: Iterable[object]) -> str:
    """``unknown key 'tag' (did you mean tags?)``: every unknown key, sorted, each with its
    near miss among ``known``, then the known keys (a typo is fixed in one go)."""
    known_keys = sorted(map(str, known))
    shown = [f"{key!r:.60}{did_you_mean(key, known_keys)}" for key in sorted(map(str, unknown))]
    plural = "s" if len(shown) > 1 else ""
    return f"unknown key{plural} {', '.join(shown)}; known keys: {', '.join(known_keys)}"
