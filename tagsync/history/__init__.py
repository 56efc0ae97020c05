"""The last N accepted versions of one cloud, stored compactly, and what changed per tag.

Modules, by job:

- ``packs``: where kept versions live (manifests and content-addressed packs) and reading them;
- ``manifests``: the on-disk encoding of manifests, pack references and content ids;
- ``recording``: adding a just-accepted version (called by ``tagsync.sync.accept``);
- ``retention``: the ``history: {keep: N}`` setting and removing what is no longer kept;
- ``queries``: one tag's changes version by version, and the version K updates back;
- ``problems``: damaged entries and warnings (history never stops a command).

The store knows nothing of history; history reads the store (its root and snapshot metadata).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagsync.history.manifests import VersionInfo
    from tagsync.history.packs import History, history_of
    from tagsync.history.problems import HistoryDamaged
    from tagsync.history.queries import TagHistory, TagVersion, tag_history, version_back
    from tagsync.history.recording import record, record_accepted
    from tagsync.history.retention import DEFAULT_KEEP, keep_setting, prune

# Loaded on first use (PEP 562): every command reads the history settings through this package,
# and importing all of it (packs, queries, recording) at start cost ~20 ms for nothing.
_HOME = {
    "VersionInfo": "manifests",
    "History": "packs",
    "history_of": "packs",
    "HistoryDamaged": "problems",
    "TagHistory": "queries",
    "TagVersion": "queries",
    "tag_history": "queries",
    "version_back": "queries",
    "record": "recording",
    "record_accepted": "recording",
    "DEFAULT_KEEP": "retention",
    "keep_setting": "retention",
    "prune": "retention",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'tagsync.history' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"tagsync.history.{module}"), name)


__all__ = [
    "DEFAULT_KEEP",
    "History",
    "HistoryDamaged",
    "TagHistory",
    "TagVersion",
    "VersionInfo",
    "history_of",
    "keep_setting",
    "prune",
    "record",
    "record_accepted",
    "tag_history",
    "version_back",
]
