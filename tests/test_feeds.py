"""`tagsync feeds`: the tree's files against an independent computation (stdlib ipaddress),
incremental and atomic publishing, history charts, and refusing unsafe names.

The served tree (nginx, headless Chromium) is tested in test_feeds_served.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, public
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.feeds_history import Point, TagTrend
from tagsync.feeds_html import render_page

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def feeds(runner: CliRunner, out: Path, state: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["feeds", "--out", str(out), "--state-dir", str(state), *args])
    return result.exit_code, result.stderr


def published_tags(path: Path) -> dict[str, list[str]]:
    document = json.loads(path.read_bytes())
    return {v["name"]: v["properties"]["addressPrefixes"] for v in document["values"]}


def expected_lists(prefixes: list[str]) -> tuple[list[Network], list[Network]]:
    """The fewest networks covering the tag, per family, in order: ipaddress does the work."""
    networks = [ipaddress.ip_network(p) for p in prefixes]
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return list(ipaddress.collapse_addresses(v4)), list(ipaddress.collapse_addresses(v6))


def lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert b"\r" not in data and (data == b"" or data.endswith(b"\n"))
    return data.decode("ascii").splitlines()


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def check_tag_dir(tree: Path, name: str, prefixes: list[str], entry: dict[str, Any]) -> None:
    v4, v6 = expected_lists(prefixes)
    folder = tree / name
    assert [ipaddress.ip_network(x) for x in lines(folder / "ipv4.txt")] == v4
    assert [ipaddress.ip_network(x) for x in lines(folder / "ipv6.txt")] == v6
    assert lines(folder / "all.txt") == lines(folder / "ipv4.txt") + lines(folder / "ipv6.txt")
    # Every entry is in canonical form (what a firewall parser expects).
    assert all(str(ipaddress.ip_network(x)) == x for x in lines(folder / "all.txt"))
    assert (entry["ipv4"], entry["ipv6"], entry["all"]) == (len(v4), len(v6), len(v4) + len(v6))
    assert entry["published_prefixes"] == len(prefixes)
    assert entry["deploy_by"] is None and entry["last_change"] is None  # no kept history
    for file_name, info in entry["files"].items():
        data = (tree / info["path"]).read_bytes()
        assert info["path"] == f"{name}/{file_name}"
        assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["bytes"] == len(data)
    for list_name in ("ipv4.txt", "ipv6.txt", "all.txt"):
        digest = hashlib.sha256((folder / list_name).read_bytes()).hexdigest()
        assert (folder / f"{list_name}.sha256").read_text() == f"{digest}  {list_name}\n"
        assert entry["files"][list_name]["entries"] == len(lines(folder / list_name))
    checkpoint = json.loads((folder / "checkpoint.json").read_bytes())
    assert list(checkpoint) == ["version", "description", "objects"]
    assert checkpoint["version"] == "1.0"
    (obj,) = checkpoint["objects"]
    assert obj["name"] == name and isinstance(obj["description"], str)
    assert uuid.UUID(obj["id"]).version == 5
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "tagsync:feeds:checkpoint-generic-data-center")
    assert obj["id"] == str(uuid.uuid5(namespace, f"public/{name}"))  # stable across runs
    assert [ipaddress.ip_network(x) for x in obj["ranges"]] == v4 + v6


def test_all_tags_tree_matches_ipaddress(runner: CliRunner, tmp_path: Path) -> None:
    source = public("20251006")
    out = tmp_path / "out"
    code, err = feeds(runner, out, tmp_path / "state", "--all-tags", "--file", str(source))
    assert code == 0, err
    tree = out / "public"
    assert tree.is_symlink() and os.readlink(tree).startswith(".feeds/public/g")
    index = json.loads((tree / "index.json").read_bytes())
    tags = published_tags(source)
    assert list(index["tags"]) == list(tags) and index["tag_count"] == len(tags) > 3000
    assert index["change_number"] == json.loads(source.read_bytes())["changeNumber"]
    assert (index["publication_date"], index["publication_basis"]) == ("2025-10-06", "file-name")
    assert index["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    for name, prefixes in tags.items():
        check_tag_dir(tree, name, prefixes, index["tags"][name])
    # Nothing but the tag directories and the two index files.
    assert {p.name for p in tree.iterdir()} == set(tags) | {"index.json", "index.html"}
    # The Check Point ids stay the same from run to run: derived from cloud and tag only.
    ids = {
        json.loads((tree / n / "checkpoint.json").read_bytes())["objects"][0]["id"] for n in tags
    }
    assert len(ids) == len(tags)


def test_same_input_gives_identical_bytes(runner: CliRunner, tmp_path: Path) -> None:
    args = ("--file", str(SAMPLE_NEW), "--all-tags")
    assert feeds(runner, tmp_path / "a", tmp_path / "s1", *args)[0] == 0
    assert feeds(runner, tmp_path / "b", tmp_path / "s2", *args)[0] == 0
    first, second = files_of(tmp_path / "a" / "public"), files_of(tmp_path / "b" / "public")
    assert first == second and "AzureCloud.westeurope/checkpoint.json" in first


def stat_of(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def test_incremental_keeps_unchanged_files_and_removes_tags(
    runner: CliRunner, tmp_path: Path
) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    tree = out / "public"
    older, newer = public("20250901"), public("20250908")
    assert feeds(runner, out, state, "--all-tags", "--file", str(newer))[0] == 0
    first_generation = os.readlink(tree)
    before = {p: stat_of(tree / p) for p in files_of(tree)}
    contents = files_of(tree)

    # Same input again: nothing written, no new generation.
    code, err = feeds(runner, out, state, "--all-tags", "--file", str(newer))
    assert code == 0 and "unchanged" in err
    assert os.readlink(tree) == first_generation
    assert {p: stat_of(tree / p) for p in files_of(tree)} == before

    # The week before: 35 tags fewer, a few changed; everything else is the same inode.
    code, err = feeds(runner, out, state, "--all-tags", "--file", str(older))
    assert code == 0, err
    assert os.readlink(tree) != first_generation
    old_tags, new_tags = published_tags(older), published_tags(newer)
    removed = set(new_tags) - set(old_tags)
    noun = "tag" if len(removed) == 1 else "tags"
    assert removed and f"{len(removed):,} {noun} removed" in err
    assert not any((tree / name).exists() for name in removed)
    after = files_of(tree)
    for path, data in after.items():
        if path in contents and contents[path] == data:
            assert stat_of(tree / path) == before[path], path  # not rewritten: same inode, mtime
        elif path not in ("index.json", "index.html"):
            assert set(old_tags[path.split("/")[0]]) != set(new_tags[path.split("/")[0]])
    changed = {name for name in old_tags if set(old_tags[name]) != set(new_tags[name])}
    assert changed and all(contents[f"{n}/all.txt"] != after[f"{n}/all.txt"] for n in changed)
    # The previous generation is kept for readers still inside it; older ones are pruned.
    assert feeds(runner, out, state, "--all-tags", "--file", str(newer))[0] == 0
    generations = sorted(os.listdir(out / ".feeds" / "public"))
    assert generations == [".lock", "g00000002", "g00000003"]


def test_narrower_selection_removes_tag_directories(runner: CliRunner, tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    base = ("--file", str(SAMPLE_NEW), "--tag", "AzureActiveDirectory")
    assert feeds(runner, out, state, *base, "--tag", "Storage.WestEurope")[0] == 0
    assert (out / "public" / "Storage.WestEurope" / "all.txt").exists()
    code, err = feeds(runner, out, state, *base)
    assert code == 0 and "1 tag removed" in err
    assert sorted(p.name for p in (out / "public").iterdir()) == [
        "AzureActiveDirectory",
        "index.html",
        "index.json",
    ]


def test_readers_only_ever_see_complete_generations(runner: CliRunner, tmp_path: Path) -> None:
    """A reader resolving the tree while it is replaced finds an index.json whose every file
    exists with the listed sha256: never a half-written generation."""
    out, state = tmp_path / "out", tmp_path / "state"
    versions = [public("20250901"), public("20250908")]
    assert feeds(runner, out, state, "--all-tags", "--file", str(versions[0]))[0] == 0
    done = threading.Event()
    checked: list[str] = []
    failures: list[str] = []

    def reader() -> None:
        while not done.is_set():
            generation = os.path.realpath(out / "public")
            try:
                index = json.loads(Path(generation, "index.json").read_bytes())
                for entry in index["tags"].values():
                    for info in entry["files"].values():
                        data = Path(generation, info["path"]).read_bytes()
                        if hashlib.sha256(data).hexdigest() != info["sha256"]:
                            failures.append(f"{generation}: {info['path']} differs")
            except (OSError, ValueError) as exc:
                failures.append(f"{generation}: {exc}")
            checked.append(generation)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for source in (versions[1], versions[0]):
            assert feeds(runner, out, state, "--all-tags", "--file", str(source))[0] == 0
    finally:
        done.set()
        thread.join()
    assert not failures, failures[:3]
    assert len(set(checked)) >= 2  # the reader did see the swap


def write_file(path: Path, values: list[dict[str, Any]]) -> Path:
    document = {"changeNumber": 1, "cloud": "Public", "values": values}
    path.write_text(json.dumps(document))
    return path


def tag_entry(name: str, prefixes: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "id": name,
        "properties": {"changeNumber": 1, "addressPrefixes": prefixes},
    }


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["..", "Fine"], "cannot be a feed directory name"),
        ([".hidden", "Fine"], "cannot be a feed directory name"),
        (["Storage", "storage"], "differ only in case"),
    ],
)
def test_unsafe_tag_names_are_refused(
    runner: CliRunner, tmp_path: Path, names: list[str], message: str
) -> None:
    source = write_file(tmp_path / "bad.json", [tag_entry(n, ["10.0.0.0/24"]) for n in names])
    out = tmp_path / "srv" / "out"
    args = ("--all-tags", "--tag", names[-1], "--file", str(source))
    code, err = feeds(runner, out, tmp_path / "state", *args)
    assert code == 3 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (out / "public").exists()
    assert sorted(p.name for p in (tmp_path / "srv").iterdir()) == ["out"]


def test_out_with_a_plain_directory_in_the_way(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "out" / "public").mkdir(parents=True)
    code, err = feeds(runner, tmp_path / "out", tmp_path / "s", "--file", str(SAMPLE_NEW))
    assert code == 2 and "not a feed tree link" in err and err.count("\n") == 1


def test_unknown_tag_fails_with_hint(runner: CliRunner, tmp_path: Path) -> None:
    args = ("--file", str(SAMPLE_NEW), "--tag", "AzureActiveDirectry")
    code, err = feeds(runner, tmp_path / "o", tmp_path / "s", *args)
    assert code == 3 and "did you mean" in err


class _Page(HTMLParser):
    """Rows of the feeds table and the watched tags' trend tables, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.trends: dict[str, list[list[str]]] = {}
        self.circles = 0
        self._row: str | None = None
        self._cell: str | None = None
        self._trend: str | None = None
        self._trend_row: list[str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tr" and attributes.get("data-tag"):
            self._row = attributes["data-tag"] or ""
            self.rows[self._row] = {}
        elif tag == "figure" and attributes.get("data-tag"):
            self._trend = attributes["data-tag"] or ""
            self.trends[self._trend] = []
        elif tag == "tr" and self._trend is not None:
            self._trend_row = []
        elif tag == "td":
            classes = (attributes.get("class") or "").split()
            self._cell, self._text = (classes[-1] if classes else ""), ""
        elif tag == "circle":
            self.circles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            if self._row is not None and self._cell:
                self.rows[self._row][self._cell] = self._text
            elif self._trend_row is not None:
                self._trend_row.append(self._text)
            self._cell = None
        elif tag == "tr":
            if self._trend_row is not None and self._trend is not None and self._trend_row:
                self.trends[self._trend].append(self._trend_row)
            self._row, self._trend_row = None, None
        elif tag == "figure":
            self._trend = None

    def handle_data(self, data: str) -> None:
        self._text += data


def parse_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_history_chart_over_kept_versions(runner: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    dates = ["20250818", "20250825", "20250901", "20250908"]
    for date in dates:
        result = runner.invoke(
            app, ["update", "--file", str(public(date)), "--state-dir", str(state)]
        )
        assert result.exit_code in (0, 1), result.stderr
    out = tmp_path / "out"
    watched = ["Grafana", "AzureEventGrid"]
    code, err = feeds(runner, out, state, *(a for n in watched for a in ("--tag", n)))
    assert code == 0, err  # from the accepted snapshot (the newest version)
    page = parse_page((out / "public" / "index.html").read_text())
    assert set(page.trends) == set(watched)
    for name in watched:
        expected = []
        for date in dates:
            v4, v6 = expected_lists(published_tags(public(date))[name])
            cn = json.loads(public(date).read_bytes())["changeNumber"]
            expected.append([f"{date[:4]}-{date[4:6]}-{date[6:]}", cn, len(v4) + len(v6)])
        got = [[row[0], int(row[1]), number(row[3])] for row in page.trends[name]]
        assert got == expected
    assert page.circles == len(watched) * len(dates)
    # Same snapshot, same history: nothing to do. A newly accepted version changes the
    # history, so the page is rebuilt with one more point.
    assert "unchanged" in feeds(runner, out, state, *(a for n in watched for a in ("-t", n)))[1]
    newest = runner.invoke(
        app, ["update", "--file", str(public("20251006")), "--state-dir", str(state)]
    )
    assert newest.exit_code in (0, 1), newest.stderr
    code, err = feeds(runner, out, state, *(a for n in watched for a in ("-t", n)))
    assert code == 0 and "files written" in err
    page = parse_page((out / "public" / "index.html").read_text())
    assert [row[0] for row in page.trends["Grafana"]][-1] == "2025-10-06"
    assert len(page.trends["Grafana"]) == len(dates) + 1
    # An older kept version rendered again: the chart ends at that version, as it was then.
    code, _ = feeds(runner, out, state, "--tag", "Grafana", "--file", str(public("20250901")))
    page = parse_page((out / "public" / "index.html").read_text())
    assert code == 0 and [r[0] for r in page.trends["Grafana"]] == [
        f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates[:3]
    ]


def test_no_history_charts_one_point(runner: CliRunner, tmp_path: Path) -> None:
    code, _ = feeds(runner, tmp_path / "o", tmp_path / "s", "--file", str(SAMPLE_NEW))
    page = parse_page((tmp_path / "o" / "public" / "index.html").read_text())
    assert code == 0 and page.circles == 1
    (rows,) = page.trends.values()
    # The sample's name carries its version's date (ServiceTags_Public_20250804.sample.json).
    assert len(rows) == 1 and rows[0][0] == "2025-08-04"


def test_page_escapes_everything() -> None:
    hostile = "<script>alert(1)</script>"
    index = {
        "cloud": hostile,
        "change_number": 1,
        "publication_date": hostile,
        "tags": {
            hostile: {
                "change_number": 2,
                "ipv4": 1,
                "ipv6": 0,
                "all": 1,
                "published_prefixes": 1,
                "deploy_by": hostile,
            }
        },
    }
    trend = TagTrend((Point(hostile, 1, 1, 2),), hostile, False)
    html = render_page(index, {hostile: trend}).decode()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not re.search(r"<[^>]*\son\w+=", html)  # no event handlers: nothing runs


@pytest.fixture
def tree(runner: CliRunner, tmp_path: Path) -> Iterator[Path]:
    assert feeds(runner, tmp_path / "o", tmp_path / "s", "--file", str(SAMPLE_NEW))[0] == 0
    yield tmp_path / "o" / "public"


def test_page_numbers_match_index(tree: Path) -> None:
    index = json.loads((tree / "index.json").read_bytes())
    page = parse_page((tree / "index.html").read_text())
    assert set(page.rows) == set(index["tags"])
    for name, row in page.rows.items():
        entry = index["tags"][name]
        assert [number(row[k]) for k in ("ipv4", "ipv6", "all")] == [
            entry["ipv4"],
            entry["ipv6"],
            entry["all"],
        ]
        assert row["deploy-by"] == "\u2014"
