"""Kept versions: recording, retention, damage, `tagsync history`, `diff --from-history`.

Expected answers come from the real files read with plain json + ipaddress + set arithmetic.
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.clouds import get_cloud
from tagsync.config import Config
from tagsync.errors import ConfigError, DataError
from tagsync.history import (
    DEFAULT_KEEP,
    History,
    history_of,
    keep_setting,
    record_accepted,
    tag_history,
    version_back,
)
from tagsync.history.manifests import used_packs
from tagsync.model import parse_service_tags
from tagsync.store import Store

TAG = "AzureAdvancedThreatProtection"


def public_files() -> list[Path]:
    shared_file("servicetags/public/ServiceTags_Public_20251006.json")
    return sorted((SHARED_DATA / "servicetags/public").glob("ServiceTags_Public_*.json"))


@functools.lru_cache(maxsize=32)
def _normalised(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix))


@functools.lru_cache(maxsize=16)
def plain_tags(path: Path, only: str | None = None) -> dict[str, set[str]]:
    """{tag: prefixes} read with plain json; prefixes normalised by ipaddress (IPv6 forms)."""
    document = json.loads(path.read_bytes())
    return {
        v["name"]: {
            p if ":" not in p else _normalised(p) for p in v["properties"]["addressPrefixes"]
        }
        for v in document["values"]
        if only is None or v["name"] == only
    }


def save(store: Store, path: Path, keep: int = DEFAULT_KEEP) -> None:
    """Accept ``path`` as `sync.accept` does, without its diff: save, then record history."""
    data = path.read_bytes()
    service_tags = parse_service_tags(data, source=str(path))
    with store.locked():
        meta = store.save(data, service_tags, str(path))
        record_accepted(store, service_tags, meta, keep=keep)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[Path]]:
    """All 14 public versions accepted in order into one state dir (default retention)."""
    files = public_files()
    store = Store(tmp_path_factory.mktemp("state"), get_cloud("public"))
    for path in files:
        save(store, path)
    return store, files


def pack_files(history: History) -> list[Path]:
    return sorted(history.packs_dir.glob("*.json.gz"))


def test_every_kept_version_loads_back_as_published(full: tuple[Store, list[Path]]) -> None:
    store, files = full
    history = history_of(store)
    versions, problems = history.versions()
    assert problems == []
    assert [v.change_number for v in versions] == [
        json.loads(path.read_bytes())["changeNumber"] for path in files
    ]
    for info, path in zip(versions, files, strict=True):
        loaded = history.load(info)
        assert {name: set(tag.prefixes) for name, tag in loaded.tags.items()} == plain_tags(path)
        assert loaded.sha256 == parse_service_tags(path.read_bytes()).sha256
        assert list(loaded.tags) == [v["name"] for v in json.loads(path.read_bytes())["values"]]


def test_unchanged_tags_are_stored_once(full: tuple[Store, list[Path]]) -> None:
    store, files = full
    history = history_of(store)
    distinct = set()
    total = 0
    for path in files:
        for value in json.loads(path.read_bytes())["values"]:
            distinct.add(json.dumps(value["properties"], sort_keys=True) + value["name"])
            total += 1
    stored = sum(
        len(json.loads(gzip.decompress(p.read_bytes()))["objects"]) for p in pack_files(history)
    )
    assert stored == len(distinct) < total / 3
    on_disk = sum(p.stat().st_size for p in history.root.rglob("*") if p.is_file())
    assert on_disk < sum(p.stat().st_size for p in files) / 8


def test_tag_history_lists_changes_per_version(full: tuple[Store, list[Path]]) -> None:
    store, files = full
    result = tag_history(history_of(store), TAG.lower())
    assert result.name == TAG
    rows = list(reversed(result.versions))
    assert len(rows) == len(files)
    previous: set[str] | None = None
    for row, path in zip(rows, files, strict=True):
        current = plain_tags(path, TAG).get(TAG, set())
        assert row.prefix_count == len(current)
        if previous is None:
            assert row.first and not row.added and not row.removed
        else:
            assert {str(ipaddress.ip_network(p)) for p in row.added} == current - previous
            assert {str(ipaddress.ip_network(p)) for p in row.removed} == previous - current
        previous = current


def test_history_command_formats(runner: CliRunner, full: tuple[Store, list[Path]]) -> None:
    store, files = full
    state = str(store.root.parent)
    as_json = runner.invoke(
        app, ["history", "azureadvancedthreatprotection", "--state-dir", state, "--format", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    newest = json.loads(files[-1].read_bytes())
    assert document["versions"][0]["change_number"] == newest["changeNumber"]
    text = runner.invoke(app, ["history", TAG, "--state-dir", state])
    assert text.exit_code == 0
    assert text.stdout.startswith(f"{TAG} in Public: {len(files)} kept versions")
    for entry in document["versions"]:
        for prefix in entry["added"]:
            assert f"  + {prefix}\n" in text.stdout
    markdown = runner.invoke(app, ["history", TAG, "--state-dir", state, "--format", "markdown"])
    assert markdown.exit_code == 0
    assert "| changeNumber | Accepted |" in markdown.stdout
    again = runner.invoke(app, ["history", TAG, "--state-dir", state, "--format", "markdown"])
    assert again.stdout == markdown.stdout
    unknown = runner.invoke(app, ["history", "AzureAdvancedThreatProtectio", "--state-dir", state])
    assert unknown.exit_code == 3
    assert "did you mean AzureAdvancedThreatProtection" in unknown.stderr


def test_history_defaults_to_the_watched_tags(
    runner: CliRunner, full: tuple[Store, list[Path]], tmp_path: Path
) -> None:
    store, _ = full
    state = str(store.root.parent)
    alone = runner.invoke(app, ["history", "--state-dir", state])
    assert alone.exit_code == 0, alone.output
    assert alone.stdout == runner.invoke(app, ["history", TAG, "--state-dir", state]).stdout
    # The watched tags come from the config (or its profile): one report per tag.
    config = tmp_path / "c.yaml"
    config.write_text("tags: [AzureAdvancedThreatProtection, AzureActiveDirectory]\n")
    both = runner.invoke(
        app, ["history", "--state-dir", state, "-c", str(config), "--format", "json"]
    )
    assert both.exit_code == 0, both.output
    names = [entry["tag"] for entry in json.loads(both.stdout)["tags"]]
    assert names == ["AzureAdvancedThreatProtection", "AzureActiveDirectory"]


@pytest.mark.parametrize("back", [1, 4, 13])
def test_diff_from_history(runner: CliRunner, full: tuple[Store, list[Path]], back: int) -> None:
    store, files = full
    result = runner.invoke(
        app,
        [
            "diff",
            "--state-dir",
            str(store.root.parent),
            "--from-history",
            str(back),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    old, new = plain_tags(files[-1 - back], TAG), plain_tags(files[-1], TAG)
    change = document["tags"][TAG]
    assert set(change["added"]) == new[TAG] - old[TAG]
    assert set(change["removed"]) == old[TAG] - new[TAG]
    assert (
        document["old_change_number"] == json.loads(files[-1 - back].read_bytes())["changeNumber"]
    )


def test_diff_from_history_too_far_back(runner: CliRunner, full: tuple[Store, list[Path]]) -> None:
    store, files = full
    result = runner.invoke(
        app, ["diff", "--state-dir", str(store.root.parent), "--from-history", str(len(files))]
    )
    assert result.exit_code == 3
    assert "cannot go back" in result.stderr


def test_retention_prunes_and_compacts(tmp_path: Path) -> None:
    files = public_files()
    store = Store(tmp_path, get_cloud("public"))
    for path in files[:7]:
        save(store, path, keep=3)
    history = history_of(store)
    versions, problems = history.versions()
    assert problems == []
    assert [v.change_number for v in versions] == [
        json.loads(p.read_bytes())["changeNumber"] for p in files[4:7]
    ]
    used = {pack.id for info in versions for pack in used_packs(info)}
    assert {p.name.split(".")[0] for p in pack_files(history)} == used
    live: dict[str, set[str]] = {}
    for info in versions:
        for object_id, index in info.tags.values():
            live.setdefault(info.packs[index].id, set()).add(object_id)
    for path in pack_files(history):
        objects = json.loads(gzip.decompress(path.read_bytes()))["objects"]
        assert len(objects) <= 2 * len(live[path.name.split(".")[0]])
    for info, path in zip(versions, files[4:7], strict=True):
        loaded = History(history.root, "Public").load(info)
        assert {n: set(t.prefixes) for n, t in loaded.tags.items()} == plain_tags(path)


def test_damaged_entries_are_reported_and_skipped(runner: CliRunner, tmp_path: Path) -> None:
    files = public_files()[-4:]
    store = Store(tmp_path, get_cloud("public"))
    for path in files[:3]:
        save(store, path)
    history = history_of(store)
    manifests = sorted(history.versions_dir.glob("*.json.gz"))
    delta = [json.loads(gzip.decompress(p.read_bytes())).get("base") for p in manifests]
    manifests[1].write_bytes(b"\x1f\x8b garbage")
    versions, problems = history.versions()
    # The damaged manifest is skipped, and so is the next one when it is a delta on it.
    lost = 1 + (delta[2] == 2)
    assert len(versions) == 3 - lost
    assert len(problems) == lost and manifests[1].name in problems[0]
    result = runner.invoke(app, ["history", TAG, "--state-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "warning:" in result.stderr and manifests[1].name in result.stderr
    assert "Traceback" not in result.output
    # A pack that vanished: versions using it are skipped; the next version is stored whole.
    for pack in pack_files(history):
        pack.unlink()
    broken = runner.invoke(app, ["history", TAG, "--state-dir", str(tmp_path)])
    assert broken.exit_code == 0
    assert "pack is missing" in broken.stderr
    save(store, files[3])
    newest = history_of(store).versions()[0][-1]
    loaded = history_of(store).load(newest)
    assert {n: set(t.prefixes) for n, t in loaded.tags.items()} == plain_tags(files[3])


def test_history_failure_keeps_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = public_files()[-1]
    store = Store(tmp_path, get_cloud("public"))
    store.root.mkdir(parents=True)
    (store.root / "history").write_text("not a directory")
    save(store, path)
    assert "version not recorded in history" in capsys.readouterr().err
    loaded = store.load()
    assert loaded is not None and loaded.sha256 == parse_service_tags(path.read_bytes()).sha256


def test_update_command_records_history(runner: CliRunner, tmp_path: Path) -> None:
    files = public_files()[-3:]
    config = tmp_path / "config.yaml"
    config.write_text("history:\n  keep: 2\n")
    for path in files:
        result = runner.invoke(
            app,
            ["update", "--file", str(path), "--state-dir", str(tmp_path), "--config", str(config)],
        )
        assert result.exit_code == 0, result.output
    versions, _ = history_of(Store(tmp_path, get_cloud("public"))).versions()
    assert [v.change_number for v in versions] == [
        json.loads(p.read_bytes())["changeNumber"] for p in files[1:]
    ]


@pytest.mark.parametrize(
    "section", [[1], {"keep": -1}, {"keep": "52"}, {"keep": True}, {"kept": 3}]
)
def test_bad_history_config(section: Any) -> None:
    with pytest.raises(ConfigError):
        keep_setting(Config(sections={"history": section}))


def test_history_config_defaults() -> None:
    assert keep_setting(Config()) == 52
    assert keep_setting(Config(sections={"history": {"keep": 0}})) == 0


def test_bad_history_config_via_cli(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("history:\n  keep: -3\n")
    result = runner.invoke(
        app, ["history", TAG, "--state-dir", str(tmp_path), "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "history.keep" in result.stderr


def test_no_history_yet(tmp_path: Path) -> None:
    store = Store(tmp_path, get_cloud("public"))
    with pytest.raises(DataError, match="no kept versions"):
        tag_history(history_of(store), TAG)
    with pytest.raises(DataError, match="cannot go back"):
        version_back(store, 1)
