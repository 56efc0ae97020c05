"""Publishing a feed tree so that a reader never sees half of it, and unchanged files stay put.

Layout under ``--out`` (one cloud per run; several clouds can share OUT)::

    OUT/<cloud>                      symlink -> .feeds/<cloud>/g00000007 (relative)
    OUT/.feeds/<cloud>/g00000007/    one complete generation: index.json, index.html, <tag>/...
    OUT/.feeds/<cloud>/.lock         held for the whole run

Why a generation swapped in with a symlink, not per-file renames: a firewall fetches a list and
then its ``.sha256`` (Cisco), or a person reads ``index.json`` and then a list it names; with
per-file renames either could pair a new file with an old one, and a removed tag's directory
would vanish before the index stops naming it. Here every path under ``OUT/<cloud>`` resolves
inside one generation, and ``rename(2)`` of the link switches all of them at once. A request
that already opened a file of the old generation finishes reading it (open files outlive their
names), and the previous generation is kept until the next run, so a reader walking it keeps
working.

Unchanged files are not rewritten: a file whose bytes equal the previous generation's is
hard-linked into the new one (same inode, same mtime and size), so a web server's ETag and
Last-Modified (nginx derives both from them) and the firewalls' conditional polls see no change.
When nothing at all changed, no generation is made. The new generation is flushed to disk
(``syncfs`` of its filesystem) before the link moves, so a crash leaves the old tree or the
complete new one.

Serve ``OUT`` (the web server follows the link); keep ``.feeds`` out of anything that copies
the tree as plain files, or copy ``OUT/<cloud>/`` with links followed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tagsync.atomic import fsync_directory
from tagsync.errors import ConfigError, DataError, LockError

__all__ = ["FeedTree", "Published"]

_GENERATION = re.compile(r"g([0-9]{8})")
# A file entry of index.json as tagsync.feeds.build_files writes it.
_LISTED = re.compile(
    rb'"path":"([A-Za-z0-9._-]+/[a-z0-9.]+)","bytes":[0-9]+,"sha256":"([0-9a-f]{64})"'
)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_LOCK_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Published:
    """What one run did to the tree."""

    path: Path  # OUT/<cloud>
    generation: str | None  # the new generation, or None when nothing changed
    written: int = 0
    linked: int = 0
    removed_tags: tuple[str, ...] = ()


class FeedTree:
    """One cloud's published tree under ``out``."""

    def __init__(self, out: Path, cloud: str) -> None:
        self.out = out
        self.cloud = cloud
        self.link = out / cloud
        self.base = out / ".feeds" / cloud

    @contextlib.contextmanager
    def locked(self, timeout: float = _LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the tree's lock: two runs never build generations side by side. A plain
        ``flock`` (released by the kernel if the process dies), polled until ``timeout``."""
        import fcntl
        import time

        try:
            self.base.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.base / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(f"{self.out}: cannot create the feed tree ({exc.strerror})") from None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockError(
                            f"{self.base}: another tagsync feeds run holds the lock"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    # --- the current generation ---------------------------------------------------------------
    def current(self) -> Path | None:
        """The generation ``OUT/<cloud>`` points to, or None before the first run."""
        if not os.path.lexists(self.link):
            return None
        if not self.link.is_symlink():
            raise ConfigError(
                f"{self.link}: exists and is not a feed tree link made by tagsync; "
                "move it away or choose another --out"
            )
        target = os.readlink(self.link)
        parts = target.split("/")
        if parts[:2] != [".feeds", self.cloud] or len(parts) != 3:
            raise ConfigError(
                f"{self.link}: points to {target!r:.80}, not into .feeds/{self.cloud}"
            )
        if not _GENERATION.fullmatch(parts[2]) or not (self.base / parts[2]).is_dir():
            return None  # dangling or foreign: the next generation replaces it
        return self.base / parts[2]

    def previous_key(self) -> str | None:
        """The input key of the current generation, from the first line of its ``index.json``
        (where :func:`tagsync.feeds.build_files` puts everything but the tags): an unchanged
        re-render stops here without parsing the whole index."""
        current = self.current()
        if current is None:
            return None
        try:
            with open(current / "index.json", "rb") as handle:
                head = json.loads(handle.readline().rstrip(b",\r\n") + b"}")
        except (OSError, ValueError):
            return None
        key = head.get("input_key") if isinstance(head, dict) else None
        return key if isinstance(key, str) else None

    def previous_digests(self) -> dict[str, str]:
        """path -> sha256 of every tag file the current generation's ``index.json`` lists
        (our own output, read with a strict pattern: an entry that does not match is simply
        not vouched for, and its file is written again), or {} before the first run."""
        current = self.current()
        if current is None:
            return {}
        try:
            text = (current / "index.json").read_bytes()
        except OSError:
            return {}
        return {
            path.decode("ascii"): digest.decode("ascii") for path, digest in _LISTED.findall(text)
        }

    # --- publishing ---------------------------------------------------------------------------
    def publish(
        self, files: Mapping[str, bytes], digests: Mapping[str, str], known: Mapping[str, str]
    ) -> Published:
        """Make ``files`` (paths relative to ``OUT/<cloud>``) the tree; call with the lock held.
        ``digests``: the sha256 of the tag files (the two index files are hashed here);
        ``known``: the current generation's, from :meth:`previous_digests`."""
        import hashlib

        current = self.current()
        known = dict(known) if current is not None else {}
        digests = dict(digests)
        for extra in ("index.json", "index.html"):
            if extra in files:
                digests[extra] = hashlib.sha256(files[extra]).hexdigest()
                # Not listed in index.json: compare with the file itself.
                if current is not None:
                    with contextlib.suppress(OSError):
                        known[extra] = hashlib.sha256((current / extra).read_bytes()).hexdigest()
        removed = _removed_tags(known, files)
        if current is not None and known == digests:
            return Published(self.link, None)
        generation = self._next_generation()
        target = self.base / generation
        try:
            written, linked = _write_generation(target, files, digests, known, current)
            if written:
                _sync_filesystem(target)  # every new file on disk before the link points at them
            self._swap(generation)
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise DataError(f"{target}: cannot write the feed tree ({exc.strerror})") from None
        self._prune(keep={generation, current.name if current is not None else ""})
        return Published(self.link, generation, written, linked, removed)

    def _next_generation(self) -> str:
        numbers = [int(m.group(1)) for m in map(_GENERATION.fullmatch, os.listdir(self.base)) if m]
        return f"g{max(numbers, default=0) + 1:08d}"

    def _swap(self, generation: str) -> None:
        temp = self.out / f".{self.cloud}.link-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        os.symlink(f".feeds/{self.cloud}/{generation}", temp)
        try:
            os.replace(temp, self.link)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        fsync_directory(self.out)

    def _prune(self, keep: set[str]) -> None:
        """Remove generations but the new and the previous one, and crashed runs' leftovers."""
        for name in os.listdir(self.base):
            if _GENERATION.fullmatch(name) and name not in keep:
                shutil.rmtree(self.base / name, ignore_errors=True)
        for stale in self.out.glob(f".{self.cloud}.link-*"):
            with contextlib.suppress(OSError):
                stale.unlink()


def _removed_tags(known: Mapping[str, str], files: Mapping[str, bytes]) -> tuple[str, ...]:
    before = {path.split("/", 1)[0] for path in known if "/" in path}
    present = {path.split("/", 1)[0] for path in files if "/" in path}
    return tuple(sorted(before - present))


def _write_generation(
    target: Path,
    files: Mapping[str, bytes],
    digests: Mapping[str, str],
    known: Mapping[str, str],
    current: Path | None,
) -> tuple[int, int]:
    """Fill the new generation directory: link what is unchanged, write the rest."""
    by_directory: dict[str, list[str]] = {}
    for path in files:
        directory, _, name = path.rpartition("/")
        by_directory.setdefault(directory, []).append(name)
    os.mkdir(target)
    root, previous = str(target), str(current) if current is not None else ""
    written = linked = 0
    for directory, names in by_directory.items():
        folder = f"{root}/{directory}" if directory else root
        if directory:
            os.mkdir(folder)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in names:
                path = f"{directory}/{name}" if directory else name
                if previous and known.get(path) == digests[path]:
                    try:
                        os.link(f"{previous}/{path}", name, dst_dir_fd=dir_fd)
                        linked += 1
                        continue
                    except OSError:
                        pass  # gone or not linkable (another filesystem): write it instead
                _write(dir_fd, name, files[path])
                written += 1
        finally:
            os.close(dir_fd)
    return written, linked


def _write(dir_fd: int, name: str, data: bytes) -> None:
    # Plain os calls with the directory's fd: ~20,000 small files per full tree, where a
    # Python file object and a path lookup per file would double the cost.
    fd = os.open(name, _CREATE, 0o644, dir_fd=dir_fd)
    try:
        done = os.write(fd, data)
        if done < len(data):  # a short write: rare, and only for large files
            view = memoryview(data)[done:]
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _sync_filesystem(directory: Path) -> None:
    """Flush the filesystem holding ``directory``: ``syncfs(2)`` where the C library has it
    (only that filesystem, not every disk of a busy machine), else ``sync``."""
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        os.sync()
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
