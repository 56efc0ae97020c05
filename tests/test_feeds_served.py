"""The feed tree served by a real nginx on loopback and fetched as firewalls fetch it (GET,
conditional GET, HEAD), and its index.html loaded in a real headless Chromium.

Both tools come from Debian packages (nginx, chromium; see .ci/run). A missing tool fails the
test instead of skipping it: these are the tests that show the tree works when served.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import public
from test_feeds import expected_lists, number, parse_page, published_tags
from test_feeds_deploy import day, deploy_by, expected_changes, properties
from typer.testing import CliRunner

from tagsync.cli import app

WATCHED = ("AzureFrontDoor.Backend", "Grafana", "AzureEventGrid")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian package {name}; .ci/run installs it)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ text/plain txt sha256; application/json json; text/html html; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        # The README's snippet: hide .feeds (the generations), serve the cloud links.
        location ~ /\\. {{ deny all; }}
        location / {{ add_header Cache-Control "no-cache"; }}
    }}
}}
"""


@dataclass
class Served:
    root: Path
    port: int
    state: Path

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()

    def render(self, source: Path) -> str:
        result = CliRunner().invoke(
            app,
            ["feeds", "--out", str(self.root), "--state-dir", str(self.state), "--all-tags",
             *(a for name in WATCHED for a in ("--tag", name)), "--file", str(source)],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    nginx = tool("nginx")
    run, root = tmp_path / "run", tmp_path / "www"
    run.mkdir()
    root.mkdir()
    port = free_port()
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run, port=port, root=root))
    process = subprocess.Popen(
        [nginx, "-e", str(run / "error.log"), "-p", str(run), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx did not start: {error}")
                time.sleep(0.05)
        yield Served(root, port, tmp_path / "state")
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_served_like_firewalls_fetch(served: Served) -> None:
    older, newer = public("20250901"), public("20250908")
    served.render(older)
    tags = published_tags(older)
    changed = next(
        n for n, p in published_tags(newer).items() if n in tags and set(p) != set(tags[n])
    )
    steady = "AzureFrontDoor.Backend"
    assert set(tags[steady]) == set(published_tags(newer)[steady])

    status, headers, body = served.request("GET", "/public/index.json")
    assert status == 200 and headers["content-type"] == "application/json"
    index = json.loads(body)
    path = f"/public/{steady}/ipv4.txt"
    status, headers, body = served.request("GET", path)
    v4, _ = expected_lists(tags[steady])
    assert status == 200 and headers["content-type"] == "text/plain"
    assert [ipaddress.ip_network(x) for x in body.decode().splitlines()] == v4
    etag, modified = headers["etag"], headers["last-modified"]
    # Checksum-polling firewalls (Cisco FDM) read the .sha256 first.
    _, _, checksum = served.request("GET", path + ".sha256")
    assert checksum.decode() == f"{hashlib.sha256(body).hexdigest()}  ipv4.txt\n"
    assert index["tags"][steady]["files"]["ipv4.txt"]["sha256"] == hashlib.sha256(body).hexdigest()

    # HEAD: the same headers, no body.
    status, head_headers, head_body = served.request("HEAD", path)
    assert status == 200 and head_body == b""
    assert head_headers["etag"] == etag and head_headers["content-length"] == str(len(body))

    # The next week's file: a new generation, but this tag did not change, so its files are
    # the same inodes: same ETag and Last-Modified, and conditional polls stay 304.
    assert "files written" in served.render(newer)
    for conditional in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        status, headers, body = served.request("GET", path, conditional)
        assert status == 304 and body == b"", conditional
    status, headers, _ = served.request("GET", f"/public/{changed}/all.txt", {})
    changed_etag = headers["etag"]
    served.render(older)  # back: that tag's list really changes
    status, headers, body = served.request(
        "GET", f"/public/{changed}/all.txt", {"If-None-Match": changed_etag}
    )
    assert status == 200 and headers["etag"] != changed_etag
    v4, v6 = expected_lists(tags[changed])
    assert [ipaddress.ip_network(x) for x in body.decode().splitlines()] == v4 + v6

    # An unchanged re-render touches nothing at all.
    assert "unchanged" in served.render(older)
    status, _, _ = served.request("GET", path, {"If-None-Match": etag})
    assert status == 304
    # The generations behind the link are not served.
    generation = os.readlink(served.root / "public")
    assert served.request("GET", f"/{generation}/index.json")[0] == 403
    assert served.request("GET", "/public/NoSuchTag/ipv4.txt")[0] == 404


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded image rows: a blank
    page has one or two, a rendered table and charts many."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    command = [
        tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_index_page_in_headless_chromium(served: Served, tmp_path: Path) -> None:
    dates = ["20250825", "20250901", "20250908"]
    for date in dates:  # a kept history of three accepted versions
        result = CliRunner().invoke(
            app, ["update", "--file", str(public(date)), "--state-dir", str(served.state)]
        )
        assert result.exit_code in (0, 1), result.stderr
    served.render(public("20250908"))
    url = f"http://127.0.0.1:{served.port}/public/index.html"
    # The DOM as Chromium built it, without JavaScript: the page needs none.
    dumped = chromium("--disable-javascript", "--dump-dom", url, profile=tmp_path / "p1")
    assert dumped.returncode == 0, dumped.stderr.decode()[-2000:]
    page = parse_page(dumped.stdout.decode())
    _, _, body = served.request("GET", "/public/index.json")
    index = json.loads(body)
    tags = published_tags(public("20250908"))
    assert set(page.rows) == set(index["tags"]) == set(tags)
    for name, row in page.rows.items():
        v4, v6 = expected_lists(tags[name])
        entry = index["tags"][name]
        shown = [number(row[k]) for k in ("ipv4", "ipv6", "all")]
        assert shown == [entry["ipv4"], entry["ipv6"], entry["all"]]
        assert shown == [len(v4), len(v6), len(v4) + len(v6)], name
    # Deploy-by as Chromium shows it, against index.json and the published files.
    changes = expected_changes(
        [(properties(public(d)), day(d), json.loads(public(d).read_bytes())["changeNumber"])
         for d in dates]
    )  # fmt: skip
    for name, row in page.rows.items():
        entry = index["tags"][name]
        assert entry["deploy_by"] == deploy_by(changes[name]), name
        assert row["deploy-by"] == (entry["deploy_by"] or "\u2014"), name
    assert sum(1 for e in index["tags"].values() if e["deploy_by"]) > 20
    assert set(page.trends) == set(WATCHED)
    for name in WATCHED:
        expected = []
        for date in dates:
            v4, v6 = expected_lists(published_tags(public(date))[name])
            expected.append(len(v4) + len(v6))
        assert [number(row[3]) for row in page.trends[name]] == expected
    assert page.circles == len(WATCHED) * len(dates)

    shot = tmp_path / "index.png"
    taken = chromium("--window-size=1200,900", f"--screenshot={shot}", url, profile=tmp_path / "p2")
    assert taken.returncode == 0 and shot.exists(), taken.stderr.decode()[-2000:]
    width, height, colours = png_size_and_colours(shot.read_bytes())
    assert (width, height) == (1200, 900) and colours > 20
