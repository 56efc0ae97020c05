"""Downloads against a real HTTP server on 127.0.0.1: pages, redirects, errors, caps, retries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_NEW, public
from pages import REAL_LINK, confirmation_page, details_page
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from tagsync.cli import app
from tagsync.clouds import CLOUDS
from tagsync.config import DownloadSettings
from tagsync.errors import DownloadError
from tagsync.fetch import download, find_json_link

FAST = DownloadSettings(connect_timeout=2, read_timeout=2, retries=2, backoff=0)
FILE_PATH = "/download/7/1/D/0000/ServiceTags_Public_20250804.json"


def write_config(tmp_path: Path, **download: object) -> Path:
    lines = ["download:"] + [f"  {key}: {value}" for key, value in download.items()]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fast_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, retries=2, backoff=0, read_timeout=2, connect_timeout=2)


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- link discovery -------------------------------------------------------------------------


def test_finds_link_in_real_confirmation_page_excerpt() -> None:
    page = confirmation_page(REAL_LINK)
    url = "https://www.microsoft.com/en-us/download/confirmation.aspx?id=56519"
    assert find_json_link(page, url, CLOUDS["public"]) == REAL_LINK


def test_finds_json_escaped_link_in_dlc_details_page() -> None:
    page = details_page(REAL_LINK, "ServiceTags_Public_20200504.json")
    assert "\\/" in page
    url = "https://www.microsoft.com/en-us/download/details.aspx?id=56519"
    assert find_json_link(page, url, CLOUDS["public"]) == REAL_LINK


def test_ignores_links_to_untrusted_hosts_and_other_clouds() -> None:
    page = (
        '<a href="https://evil.example/x/ServiceTags_Public_20990101.json">x</a>'
        '<a href="https://download.microsoft.com/y/ServiceTags_China_20990101.json">y</a>'
        f'<a href="{REAL_LINK}">z</a>'
    )
    url = "https://www.microsoft.com/en-us/download/details.aspx?id=56519"
    assert find_json_link(page, url, CLOUDS["public"]) == REAL_LINK


def test_newest_dated_link_wins() -> None:
    base = "https://download.microsoft.com/download/a/"
    page = f"{base}ServiceTags_Public_20250804.json {base}ServiceTags_Public_20251006.json"
    assert find_json_link(page, "https://www.microsoft.com/", CLOUDS["public"]).endswith(
        "20251006.json"
    )


# --- the CLI end to end over loopback ---------------------------------------------------------


def test_fetch_via_download_page_saves_bytes_unchanged(
    httpserver: HTTPServer, runner: CliRunner, tmp_path: Path, fast_config: Path
) -> None:
    real = public("20250804").read_bytes()
    httpserver.expect_request(FILE_PATH).respond_with_data(real, content_type="application/json")
    page = confirmation_page(httpserver.url_for(FILE_PATH))
    httpserver.expect_request("/en-us/download/confirmation.aspx").respond_with_data(
        page, content_type="text/html"
    )
    out = tmp_path / "saved.json"
    code, _, err = invoke(
        runner,
        "fetch",
        "-o",
        str(out),
        "--config",
        str(fast_config),
        "--page-url",
        httpserver.url_for("/en-us/download/confirmation.aspx") + "?id=56519",
    )
    assert code == 0, err
    assert out.read_bytes() == real
    assert "changeNumber 365" in err


def test_details_page_and_redirect_to_file(
    httpserver: HTTPServer, runner: CliRunner, fast_config: Path, state_dir: Path
) -> None:
    httpserver.expect_request("/go").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for(FILE_PATH)})
    )
    httpserver.expect_request(FILE_PATH).respond_with_data(SAMPLE_NEW.read_bytes())
    httpserver.expect_request("/details.aspx").respond_with_data(
        details_page(httpserver.url_for("/go/ServiceTags_Public_20250804.json"), "x"),
        content_type="text/html",
    )
    # The page links /go/ServiceTags_...json; serve that path as the redirect.
    httpserver.expect_request("/go/ServiceTags_Public_20250804.json").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for(FILE_PATH)})
    )
    code, out, err = invoke(
        runner,
        "prefixes",
        "--download",
        "--config",
        str(fast_config),
        "--state-dir",
        str(state_dir),
        "--page-url",
        httpserver.url_for("/details.aspx"),
    )
    assert code == 0, err
    assert "13.87.32.4/32" in out.splitlines()


def test_page_without_json_link_is_a_download_error(
    httpserver: HTTPServer, runner: CliRunner, fast_config: Path, tmp_path: Path
) -> None:
    httpserver.expect_request("/page").respond_with_data(
        "<html><body>We moved things around</body></html>", content_type="text/html"
    )
    code, _, err = invoke(
        runner,
        "fetch",
        "-o",
        str(tmp_path / "x.json"),
        "--config",
        str(fast_config),
        "--page-url",
        httpserver.url_for("/page"),
    )
    assert code == 4
    assert "no ServiceTags_Public_YYYYMMDD.json link" in err
    assert not (tmp_path / "x.json").exists()


def test_404_fails_at_once_without_retry(
    httpserver: HTTPServer, runner: CliRunner, fast_config: Path, tmp_path: Path
) -> None:
    httpserver.expect_request("/missing.json").respond_with_data("nope", status=404)
    url = httpserver.url_for("/missing.json")
    code, _, err = invoke(
        runner, "fetch", "-o", str(tmp_path / "x"), "--url", url, "--config", str(fast_config)
    )
    assert code == 4
    assert err.strip() == f"tagsync: error: {url}: HTTP 404 NOT FOUND"
    assert len(httpserver.log) == 1


def test_500_then_success_is_retried(httpserver: HTTPServer) -> None:
    calls: list[int] = []
    body = SAMPLE_NEW.read_bytes()

    def handler(request: Request) -> Response:
        calls.append(1)
        if len(calls) < 3:
            return Response("busy", status=503)
        return Response(body, content_type="application/json")

    httpserver.expect_request("/f.json").respond_with_handler(handler)
    sleeps: list[float] = []
    settings = DownloadSettings(retries=3, backoff=0.5, read_timeout=2)
    fetched = download(httpserver.url_for("/f.json"), settings, sleep=sleeps.append)
    assert fetched.data == body
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff between attempts


def test_persistent_500_gives_up_after_bounded_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/f.json").respond_with_data("oops", status=500)
    with pytest.raises(DownloadError, match=r"HTTP 500 .*gave up after 3 attempts"):
        download(httpserver.url_for("/f.json"), FAST, sleep=lambda _s: None)
    assert len(httpserver.log) == 3


def test_read_timeout(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("{}")

    httpserver.expect_request("/slow.json").respond_with_handler(slow)
    settings = DownloadSettings(read_timeout=0.3, retries=1, backoff=0)
    with pytest.raises(DownloadError, match=r"read timed out\) \(gave up after 2 attempts\)"):
        download(httpserver.url_for("/slow.json"), settings)


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="connection refused"):
        download(f"http://127.0.0.1:{port}/x.json", FAST, sleep=lambda _s: None)


def test_html_instead_of_json_exits_3(
    httpserver: HTTPServer, runner: CliRunner, fast_config: Path, tmp_path: Path
) -> None:
    httpserver.expect_request("/f.json").respond_with_data(
        "<html><head><title>Captive portal</title></head></html>", content_type="text/html"
    )
    url = httpserver.url_for("/f.json")
    code, _, err = invoke(
        runner, "fetch", "-o", str(tmp_path / "x"), "--url", url, "--config", str(fast_config)
    )
    assert code == 3
    assert err.startswith(f"tagsync: error: {url}: got an HTML page")
    assert "Traceback" not in err


def test_truncated_json_body_exits_3(
    httpserver: HTTPServer, runner: CliRunner, fast_config: Path, tmp_path: Path
) -> None:
    raw = SAMPLE_NEW.read_bytes()
    httpserver.expect_request("/f.json").respond_with_data(raw[: len(raw) // 3])
    code, _, err = invoke(
        runner,
        "fetch",
        "-o",
        str(tmp_path / "x"),
        "--url",
        httpserver.url_for("/f.json"),
        "--config",
        str(fast_config),
    )
    assert code == 3
    assert "truncated JSON" in err


@pytest.fixture
def cut_off_server() -> Iterator[str]:
    """A raw server that promises a Content-Length and closes the connection halfway."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    body = SAMPLE_NEW.read_bytes()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                conn.sendall(head + body[: len(body) // 2])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/ServiceTags_Public_20250804.json"
    stop.set()
    thread.join()
    listener.close()


def test_connection_cut_mid_body_is_a_download_error(cut_off_server: str) -> None:
    with pytest.raises(DownloadError, match="before the whole body arrived"):
        download(cut_off_server, FAST, sleep=lambda _s: None)


def test_oversize_body_is_refused(
    httpserver: HTTPServer, runner: CliRunner, tmp_path: Path
) -> None:
    httpserver.expect_request("/f.json").respond_with_data(SAMPLE_NEW.read_bytes())
    config = write_config(tmp_path, max_bytes=1000, retries=0)
    code, _, err = invoke(
        runner,
        "fetch",
        "-o",
        str(tmp_path / "x"),
        "--url",
        httpserver.url_for("/f.json"),
        "--config",
        str(config),
    )
    assert code == 4
    assert "over the 1000-byte cap" in err


def test_oversize_chunked_body_without_length_is_refused(httpserver: HTTPServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    httpserver.expect_request("/f.json").respond_with_response(Response(chunks()))
    settings = DownloadSettings(max_bytes=10_000, retries=0)
    with pytest.raises(DownloadError, match="exceeds the 10000-byte cap"):
        download(httpserver.url_for("/f.json"), settings)


def test_proxy_from_environment_is_honoured(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback server plays the proxy: a request for a host that does not exist reaches it.
    seen: list[str] = []

    def proxy(request: Request) -> Response:
        seen.append(request.url)
        return Response(SAMPLE_NEW.read_bytes())

    httpserver.expect_request("/ServiceTags_Public_20250804.json").respond_with_handler(proxy)
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fetched = download("http://mirror.invalid/ServiceTags_Public_20250804.json", FAST)
    assert fetched.data == SAMPLE_NEW.read_bytes()
    assert seen and "mirror.invalid" in seen[0]


def test_tls_verification_is_on_by_default() -> None:
    assert DownloadSettings().verify is True


def test_tokens_in_urls_are_never_printed_or_stored(
    httpserver: HTTPServer, runner: CliRunner, state_dir: Path, fast_config: Path
) -> None:
    from tagsync.fetch import display_url

    assert display_url("https://u:pw@mirror.example:8443/a/f.json?sig=SECRET&se=1") == (
        "https://***@mirror.example:8443/a/f.json?sig=***&se=***"
    )
    httpserver.expect_request("/f.json").respond_with_data(SAMPLE_NEW.read_bytes())
    httpserver.expect_request("/gone.json").respond_with_data("no", status=404)
    good = httpserver.url_for("/f.json") + "?sig=SECRET"
    result = runner.invoke(
        app, ["update", "--url", good, "--state-dir", str(state_dir), "--config", str(fast_config)]
    )
    assert result.exit_code == 0, result.stderr
    stored = "".join(p.read_text() for p in state_dir.rglob("snapshot.json"))
    assert "SECRET" not in stored and "/f.json?sig=***" in stored
    bad = httpserver.url_for("/gone.json") + "?sig=SECRET"
    result = runner.invoke(
        app, ["update", "--url", bad, "--state-dir", str(state_dir), "--config", str(fast_config)]
    )
    assert result.exit_code == 4
    assert "SECRET" not in result.stderr and "gone.json?sig=***: HTTP 404" in result.stderr
