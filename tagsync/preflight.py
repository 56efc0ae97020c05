"""Checks that the places a run will write to are writable, before it writes anything.

A run that renders configs, writes a report and accepts a snapshot must not fail half-way for
a path mistake: ``check --report /nonexistent/x.md`` used to move the configs into place and
only then fail. Each check proves the directory (or, when it does not exist yet, the nearest
existing parent the write would create it in) writable by creating and removing a temporary
file, which also catches read-only mounts and a full disk where ``os.access`` would say yes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tagsync.errors import LocalError

__all__ = ["writable_dir", "writable_file"]


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def writable_dir(path: Path, what: str) -> Path:
    """``path`` as a directory tagsync can write in, or a LocalError. A missing directory is
    not created here (a refused run changes nothing): its nearest existing ancestor must be a
    directory tagsync can create it in."""
    target = _existing_ancestor(path)
    if target == path and not path.is_dir():
        raise LocalError(f"{path}: the {what} is not a directory")
    if not target.is_dir():
        raise LocalError(f"{path}: cannot create the {what}: {target} is not a directory")
    try:
        # A small real write: a full disk or a read-only mount fails here, not mid-run.
        descriptor, probe = tempfile.mkstemp(prefix=".tagsync-probe-", dir=target)
        try:
            os.write(descriptor, b"probe\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
            os.unlink(probe)
    except OSError as exc:
        # Named after the directory asked about, not the probe file the OS complained of.
        raise LocalError(f"{path}: cannot write the {what} ({exc.strerror})") from None
    return path


def writable_file(path: Path, what: str) -> Path:
    """``path`` as a file tagsync can replace atomically (its directory writable), or an error."""
    if path.is_dir():
        raise LocalError(f"{path}: {what} is a directory, not a file")
    writable_dir(path.parent if str(path.parent) else Path("."), f"directory of the {what}")
    return path
