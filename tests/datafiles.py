"""The real published files the tests and benchmarks use, shipped in tests/data/.

tests/data/servicetags.tar.xz holds every file of the ../shared/data collection (Public, US Gov and
China versions, download-page excerpts) in one xz-compressed tar: the weekly Public files are
nearly identical, so compressing them together (solid) makes 55 MB into well under 1 MB.
tests/data/SHA256SUMS lists each file's SHA-256 (the same hashes as SOURCES.md).

On first use the archive is unpacked into .cache/test-data/<archive digest>/ at the repository
root (ignored by git); every file is checked against SHA256SUMS before the directory is published
by a rename, so concurrent test sessions never see half-written data, and the files stay
byte-for-byte what Microsoft published (CRLF files keep CRLF). Later sessions re-check the hashes
and unpack again when the cache was damaged.

TAGSYNC_SHARED_DATA=DIR uses an unpacked collection instead (e.g. ../shared/data), unchecked.

    python tests/datafiles.py path            # unpack if needed, print the data directory
    python tests/datafiles.py pack SRC_DIR    # rebuild the archive and SHA256SUMS from SRC_DIR
"""

from __future__ import annotations

import functools
import hashlib
import io
import lzma
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "tests" / "data"
ARCHIVE = SHIPPED / "servicetags.tar.xz"
SUMS = SHIPPED / "SHA256SUMS"
CACHE = REPO / ".cache" / "test-data"
OVERRIDE = "TAGSYNC_SHARED_DATA"


class DataFilesError(RuntimeError):
    """The shipped archive is missing or does not match SHA256SUMS."""


def recorded_sums() -> dict[str, str]:
    """relative path -> sha256, as `sha256sum` writes them."""
    sums = {}
    for line in SUMS.read_text("ascii").splitlines():
        digest, _, name = line.partition("  ")
        sums[name] = digest
    return sums


def data_root() -> Path:
    """Where the collection is (or will be once unpacked); nothing is unpacked here."""
    override = os.environ.get(OVERRIDE)
    if override:
        return Path(override)
    # Keyed by the manifest, so a new archive never meets an old cache.
    key = hashlib.sha256(SUMS.read_bytes()).hexdigest()[:16]
    return CACHE / key


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _intact(root: Path, sums: dict[str, str]) -> bool:
    return all((root / name).is_file() and _sha256(root / name) == d for name, d in sums.items())


def _unpack(target: Path, sums: dict[str, str]) -> None:
    """Unpack the listed files into a fresh directory beside ``target``, check, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        # Only regular files named in SHA256SUMS are written, by our own path join: no member
        # name or link in the archive can place anything elsewhere.
        with tarfile.open(ARCHIVE, "r:xz") as archive:
            for member in archive:
                if member.name not in sums or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                assert handle is not None
                body = handle.read()
                if hashlib.sha256(body).hexdigest() != sums[member.name]:
                    raise DataFilesError(f"{ARCHIVE}: {member.name} does not match {SUMS}")
                path = scratch / member.name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                path.chmod(0o444)  # a test that writes into the shared data fails loudly
        missing = sorted(name for name in sums if not (scratch / name).is_file())
        if missing:
            raise DataFilesError(f"{ARCHIVE} lacks {', '.join(missing)} (listed in {SUMS})")
        if target.exists():  # damaged: move it aside first, so the rename below can land
            shutil.rmtree(target, ignore_errors=True)
        try:
            scratch.rename(target)
        except OSError:
            if not _intact(target, sums):  # another session won the race with a good copy?
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@functools.cache
def ensure() -> Path:
    """The data directory, unpacked and checked (once per process)."""
    root = data_root()
    if os.environ.get(OVERRIDE):
        return root
    if not ARCHIVE.is_file():
        raise DataFilesError(f"{ARCHIVE} is missing: the test data ships with the repository")
    sums = recorded_sums()
    if not _intact(root, sums):
        _unpack(root, sums)
    return root


def data_file(relative: str) -> Path:
    """One file of the collection, e.g. ``servicetags/usgov/ServiceTags_AzureGovernment_….json``."""
    path = ensure() / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not in the test data (see tests/data/SOURCES.md)")
    return path


def public_dir() -> Path:
    """The folder of full Public-cloud versions (ServiceTags_Public_YYYYMMDD.json)."""
    return ensure() / "servicetags" / "public"


def pack(source: Path) -> None:
    """Rebuild the archive from an unpacked collection, byte-identical for the same files."""
    names = sorted(
        p.relative_to(source).as_posix()
        for folder in ("servicetags", "pages")
        for p in (source / folder).rglob("*")
        if p.is_file()
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in names:
            body = (source / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(body), 0o444, 0
            archive.addfile(info, io.BytesIO(body))
    # One dictionary (64 MiB at -9) spans the whole tar, so each week compresses against the last.
    ARCHIVE.write_bytes(lzma.compress(raw.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    SUMS.write_text("".join(f"{_sha256(source / n)}  {n}\n" for n in names), "ascii")


def main(argv: list[str]) -> int:
    if argv[:1] == ["path"] and len(argv) == 1:
        print(ensure())
        return 0
    if argv[:1] == ["pack"] and len(argv) == 2:
        pack(Path(argv[1]))
        print(f"{ARCHIVE}: {ARCHIVE.stat().st_size} bytes")
        return 0
    print(__doc__.rstrip().rpartition("\n\n")[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
