"""Publication dates: parsed from real file names, recorded on accept, read back from old state.

Expected dates come from the file names themselves, split by hand here (not by the parser).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA, shared_file

from tagsync.clouds import get_cloud
from tagsync.history import history_of, record_accepted
from tagsync.model import parse_service_tags
from tagsync.published import deploy_by, publication_date, publication_of
from tagsync.store import Store


def real_files() -> list[Path]:
    shared_file("servicetags/public/ServiceTags_Public_20251006.json")
    return sorted((SHARED_DATA / "servicetags").glob("*/ServiceTags_*.json"))


def name_date(path: Path) -> dt.date:
    """The YYYYMMDD after the last underscore of the stem, by string slicing."""
    digits = path.stem.rsplit("_", 1)[1]
    return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def test_dates_from_every_real_file_name() -> None:
    files = real_files()
    assert len({path.parent.name for path in files}) == 3  # public, usgov, china
    for path in files:
        expected = name_date(path)
        assert expected.weekday() == 0  # Microsoft names every file for a Monday
        assert publication_date(str(path)) == expected
        url = f"https://download.microsoft.com/download/7/1/d/x/{path.name}"
        publication = publication_of(url, "2030-01-01T00:00:00+00:00")
        assert (publication.date, publication.basis) == (expected, "file-name")
        assert publication.deploy_by == expected + dt.timedelta(days=7) == deploy_by(expected)


def test_names_without_a_date_fall_back_to_acceptance() -> None:
    for source in (
        "/tmp/ServiceTags_Public_Latest.json",
        "/tmp/ServiceTags_Public_202507281.json",  # nine digits: not a date
        "/tmp/ServiceTags_Public_20251332.json",  # month 13
        "https://example.test/servicetags.json",
    ):
        publication = publication_of(source, "2025-10-07T09:30:00+00:00")
        assert (publication.date, publication.basis) == (dt.date(2025, 10, 7), "accepted")


def accept(store: Store, path: Path, source: str) -> None:
    data = path.read_bytes()
    service_tags = parse_service_tags(data, source=source)
    with store.locked():
        meta = store.save(data, service_tags, source)
        record_accepted(store, service_tags, meta, keep=5)


def test_accept_records_the_date_in_snapshot_and_history(tmp_path: Path) -> None:
    path = shared_file("servicetags/usgov/ServiceTags_AzureGovernment_20250811.json")
    store = Store(tmp_path, get_cloud("usgov"))
    accept(store, path, str(path))
    raw = json.loads(store.meta_path.read_text())
    assert (raw["published"], raw["published_basis"]) == ("2025-08-11", "file-name")
    meta = store.meta()
    assert meta is not None and (meta.published, meta.published_basis) == raw_pair(raw)
    versions, problems = history_of(store).versions()
    assert problems == [] and len(versions) == 1
    assert (versions[0].published, versions[0].published_basis) == ("2025-08-11", "file-name")
    manifest = json.loads(gzip.decompress(versions[0].path.read_bytes()))
    assert (manifest["published"], manifest["published_basis"]) == ("2025-08-11", "file-name")


def raw_pair(raw: dict[str, str]) -> tuple[str, str]:
    return raw["published"], raw["published_basis"]


def test_a_copy_without_a_dated_name_is_marked_accepted(tmp_path: Path) -> None:
    original = shared_file("servicetags/china/ServiceTags_China_20250818.json")
    copy = tmp_path / "latest.json"
    copy.write_bytes(original.read_bytes())
    store = Store(tmp_path / "state", get_cloud("china"))
    accept(store, copy, str(copy))
    meta = store.meta()
    assert meta is not None and meta.published_basis == "accepted"
    assert meta.published == meta.accepted_at[:10]
    (info,), _ = history_of(store).versions()
    assert (info.published, info.published_basis) == (meta.published, "accepted")


@pytest.mark.parametrize("dated", [True, False])
def test_old_state_without_the_fields_reads_back(tmp_path: Path, dated: bool) -> None:
    """snapshot.json and manifests written before the fields existed: computed on reading."""
    original = shared_file("servicetags/china/ServiceTags_China_20251013.json")
    source = str(original) if dated else str(tmp_path / "copy.json")
    store = Store(tmp_path / "state", get_cloud("china"))
    accept(store, original, source)
    raw = json.loads(store.meta_path.read_text())
    accepted_at = raw["accepted_at"]
    for key in ("published", "published_basis"):
        del raw[key]
    store.meta_path.write_text(json.dumps(raw))
    (info,), _ = history_of(store).versions()
    manifest = json.loads(gzip.decompress(info.path.read_bytes()))
    # As format 1 wrote it: no publication fields, references as one {name: [id, pack]} object.
    ids = [manifest["ids"][at : at + 32] for at in range(0, len(manifest["ids"]), 32)]
    old_manifest = {
        key: value
        for key, value in manifest.items()
        if key not in ("published", "published_basis", "names", "ids", "pack_of")
    }
    old_manifest["format"] = 1
    old_manifest["tags"] = {
        name: [oid, pack]
        for name, oid, pack in zip(manifest["names"], ids, manifest["pack_of"], strict=True)
    }
    info.path.write_bytes(gzip.compress(json.dumps(old_manifest).encode()))

    expected = ("2025-10-13", "file-name") if dated else (accepted_at[:10], "accepted")
    meta = store.meta()
    assert meta is not None and (meta.published, meta.published_basis) == expected
    (old,), problems = history_of(store).versions()
    assert problems == [] and (old.published, old.published_basis) == expected
    assert old.tags == info.tags and old.packs == info.packs
    loaded = store.load_accepted()
    assert loaded is not None and loaded.service_tags.change_number == meta.change_number


def test_a_bad_recorded_date_is_reported_as_damage(tmp_path: Path) -> None:
    original = shared_file("servicetags/china/ServiceTags_China_20251020.json")
    store = Store(tmp_path, get_cloud("china"))
    accept(store, original, str(original))
    (info,), _ = history_of(store).versions()
    manifest = json.loads(gzip.decompress(info.path.read_bytes()))
    manifest["published"] = "20th October"
    info.path.write_bytes(gzip.compress(json.dumps(manifest).encode()))
    versions, problems = history_of(store).versions()
    assert versions == [] and len(problems) == 1
    assert str(info.path) in problems[0] and "published" in problems[0]
