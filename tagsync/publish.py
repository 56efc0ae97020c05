"""Putting rendered configs into the output directory: all or nothing, exactly one version.

A run that fails half-way (full disk, a read-only directory) leaves the previous configs in
place; a run that succeeds leaves exactly its own files, so a firewall admin never applies last
week's incremental commands beside this week's full set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tagsync.atomic import atomic_write_bytes, fsync_directory, stage_beside
from tagsync.errors import LocalError
from tagsync.words import counted

__all__ = ["PUBLISHED_LIST", "publish"]

# The files the last publish wrote, relative to the output directory: what the next publish
# may remove. Files tagsync did not write are never touched.
PUBLISHED_LIST = ".tagsync-files"


def _previously_published(out_dir: Path) -> set[str]:
    try:
        text = (out_dir / PUBLISHED_LIST).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return set()
    names = {line for line in text.splitlines() if line}
    # Only plain relative paths: a damaged or hostile list must not reach outside the dir.
    return {n for n in names if not Path(n).is_absolute() and ".." not in Path(n).parts}


def publish(files: Mapping[str, str], out_dir: Path, log: logging.Logger) -> list[str]:
    """Make ``out_dir`` hold exactly ``files``, without ever leaving a half-updated set behind.

    Files are written by the renderer into a private temporary directory, then each changed one
    is copied to a temp file beside its target, and only when every copy succeeded are they
    renamed into place. Unchanged files are left alone (stable mtimes, no churn in a git
    checkout). Files the previous publish wrote that are not rendered this time (last change's
    incremental commands, a format dropped from the config) are removed last, so the
    directory is always one version; files tagsync never wrote are never deleted. Returns the
    paths rewritten or removed.
    """
    from tagsync.render import write_rendered

    staged: list[tuple[Path, Path]] = []
    changed: list[str] = []
    stale = sorted(_previously_published(out_dir) - set(files))
    listing = "".join(f"{name}\n" for name in sorted(files)).encode("utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="tagsync-render-") as private:
            write_rendered(dict(files), Path(private))
            for relative in sorted(files):
                source, target = Path(private) / relative, out_dir / relative
                data = source.read_bytes()
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    if target.read_bytes() == data:
                        continue
                mode = stat.S_IMODE(source.stat().st_mode)
                staged.append((stage_beside(target, data, mode=mode), target))
                changed.append(relative)
        for temp, target in staged:
            os.replace(temp, target)
        for relative in stale:
            with contextlib.suppress(FileNotFoundError):
                (out_dir / relative).unlink()
                changed.append(relative)
        atomic_write_bytes(out_dir / PUBLISHED_LIST, listing)
    except OSError as exc:
        where = exc.filename or out_dir
        raise LocalError(f"{where}: cannot write the rendered configs ({exc.strerror})") from None
    finally:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
    for directory in sorted({target.parent for _, target in staged}):
        fsync_directory(directory)
    if changed:
        log.info(
            "updated %s in %s", counted(len(changed), "file"), out_dir, extra={"files": changed}
        )
    return changed
