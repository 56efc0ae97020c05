"""The state directory: the last accepted version per cloud, its metadata, and the run lock.

Layout (one sub-directory per cloud, so clouds never overwrite each other)::

    STATE_DIR/<cloud>/snapshot.json      metadata: changeNumber, cloud, source, sha256, time,
                                         publication date and how it is known
    STATE_DIR/<cloud>/data/<sha256>.json the accepted file, byte for byte as downloaded
    STATE_DIR/<cloud>/.lock              held while a run reads or advances the snapshot
    STATE_DIR/<cloud>/history/           kept older versions: tagsync.history's, not the store's

``snapshot.json`` is the commit point: the data file is written first, then the metadata is
replaced atomically, so a crash at any moment leaves a complete old or new snapshot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tagsync.atomic import atomic_write_bytes, atomic_write_text
from tagsync.clouds import Cloud
from tagsync.errors import DataError, LockError
from tagsync.fetch import Fetched
from tagsync.model import ServiceTags, parse_service_tags
from tagsync.published import publication_of

__all__ = ["Loaded", "SnapshotMeta", "Store"]

DEFAULT_LOCK_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Loaded:
    """A validated version together with the raw bytes and source it came from."""

    fetched: Fetched
    service_tags: ServiceTags


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """What is known about the accepted version without parsing it."""

    cloud: str
    change_number: int
    sha256: str
    source: str
    accepted_at: str
    tag_count: int
    # ISO date (YYYY-MM-DD) Microsoft published the version, and how it is known: "file-name"
    # (ServiceTags_<Cloud>_YYYYMMDD in the source) or "accepted" (the acceptance day stands in).
    published: str
    published_basis: str

    @property
    def data_name(self) -> str:
        return f"{self.sha256}.json"

    @classmethod
    def from_json(cls, raw: object) -> SnapshotMeta:
        """Decode snapshot.json; files written before publication dates were recorded get
        them computed from their source and acceptance time (ValueError/TypeError if bad)."""
        if not isinstance(raw, dict):
            raise TypeError("not a JSON object")
        fields = dict(raw)
        if "published" not in fields or "published_basis" not in fields:
            publication = publication_of(str(fields["source"]), str(fields["accepted_at"]))
            fields["published"] = publication.date.isoformat()
            fields["published_basis"] = publication.basis
        return cls(**fields)


class Store:
    """The accepted snapshot of one cloud inside a state directory."""

    def __init__(self, state_dir: Path, cloud: Cloud) -> None:
        self.cloud = cloud
        self.root = state_dir / cloud.name
        self.meta_path = self.root / "snapshot.json"
        self.data_dir = self.root / "data"

    @contextmanager
    def locked(
        self,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        on_wait: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Hold the state lock; wait up to ``timeout`` seconds for another run to finish.

        ``on_wait`` is called only when another run holds the lock, before waiting for it.
        """
        import filelock

        self.root.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.root / ".lock"))
        try:
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                if on_wait is not None:
                    on_wait()
                lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockError(
                f"{self.root}: another tagsync run holds the state lock "
                f"(waited {timeout:g}s); try again later"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def meta(self) -> SnapshotMeta | None:
        """The accepted version's metadata, or None before the first accepted version."""
        try:
            raw = json.loads(self.meta_path.read_bytes())
            return SnapshotMeta.from_json(raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as exc:
            raise self._damaged(f"{self.meta_path}: damaged snapshot metadata ({exc})") from None

    def load_accepted(
        self, trusted_prefixes: frozenset[str] = frozenset(), *, check_all_prefixes: bool = True
    ) -> Loaded | None:
        """The accepted version's bytes and model (checked against its recorded sha256)."""
        meta = self.meta()
        if meta is None:
            return None
        path = self.data_dir / meta.data_name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self._damaged(f"{path}: snapshot data file is missing") from None
        # The bytes are checked first: when they are the ones accepted (and validated then),
        # their prefixes need no second validation.
        if hashlib.sha256(data).hexdigest() != meta.sha256:
            raise self._damaged(f"{path}: snapshot data does not match its recorded sha256")
        try:
            snapshot = parse_service_tags(
                data,
                source=str(path),
                expected_cloud=self.cloud.file_cloud,
                trusted_prefixes=trusted_prefixes,
                check_all_prefixes=check_all_prefixes,
                prefixes_trusted=True,
            )
        except DataError as exc:
            raise self._damaged(exc.message) from None
        return Loaded(Fetched(data, meta.source), snapshot)

    def _damaged(self, problem: str) -> DataError:
        # Without its metadata the store holds no accepted version: the next update accepts
        # the current one afresh (nothing to compare with, so no rollback or removal guard).
        return DataError(
            f"{problem}; the accepted snapshot is damaged: to recover, delete {self.meta_path} "
            "and run `tagsync update`"
        )

    def load(self, trusted_prefixes: frozenset[str] = frozenset()) -> ServiceTags | None:
        """The accepted version's model, or None before the first accepted version."""
        accepted = self.load_accepted(trusted_prefixes)
        return accepted.service_tags if accepted else None

    def save(self, data: bytes, service_tags: ServiceTags, source: str) -> SnapshotMeta:
        """Make ``data`` the accepted version; call with the lock held.

        ``source`` (URL or ``--file`` path) also gives the publication date when it carries a
        ``ServiceTags_<Cloud>_YYYYMMDD`` name.
        """
        accepted_at = datetime.now(UTC).replace(microsecond=0).isoformat()
        publication = publication_of(source, accepted_at)
        meta = SnapshotMeta(
            cloud=service_tags.cloud,
            change_number=service_tags.change_number,
            sha256=service_tags.sha256,
            source=source,
            accepted_at=accepted_at,
            tag_count=len(service_tags.tags),
            published=publication.date.isoformat(),
            published_basis=publication.basis,
        )
        atomic_write_bytes(self.data_dir / meta.data_name, data)
        atomic_write_text(self.meta_path, json.dumps(asdict(meta), indent=2) + "\n")
        # Remove every other data file: the previous version's, and any left by a crashed save.
        for stale in self.data_dir.glob("*.json"):
            if stale.name != meta.data_name:
                with suppress(FileNotFoundError):
                    stale.unlink()
        return meta
