"""Download and source errors through the real CLI: each one line saying the cause and what to
do, with its exit code, and no traceback. Servers are real and local: a refused loopback port,
a proxy variable naming a closed port, a TLS server with a self-signed certificate, and a
resolver that is a closed loopback port inside a private mount namespace (a ``.invalid`` name
never leaves the machine)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_NEW
from pytest_httpserver import HTTPServer
from test_alert_support import make_certificate
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.fetch_errors import display_url

TAG = "AzureAdvancedThreatProtection"
# Slow retries: an error that is not retried comes back long before the first backoff ends.
SLOW_RETRIES = "download:\n  retries: 3\n  backoff: 30\n  connect_timeout: 2\n"


def expected_prefixes(path: Path, name: str = TAG) -> list[str]:
    """The tag's prefixes sorted numerically, computed with the stdlib from the raw JSON."""
    values = json.loads(path.read_bytes())["values"]
    raw = next(v for v in values if v["name"] == name)["properties"]["addressPrefixes"]
    networks = sorted(
        {ipaddress.ip_network(p) for p in raw},
        key=lambda n: (n.version, int(n.network_address), n.prefixlen),
    )
    return [str(n) for n in networks]


def one_error(stderr: str) -> str:
    """The single error line, checked to be the whole of stderr."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tagsync: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("tagsync: error: ")


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- local sources: file:// URLs, schemeless --url, stdin ----------------------------------


def test_file_url_reads_the_local_file(runner: CliRunner, tmp_path: Path) -> None:
    url = SAMPLE_NEW.resolve().as_uri()
    result = runner.invoke(app, ["prefixes", "--url", url, "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW)
    out = tmp_path / "saved.json"
    result = runner.invoke(app, ["fetch", "--url", url, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == SAMPLE_NEW.read_bytes()


def test_file_url_to_a_missing_file_is_a_data_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nothing.json"
    result = runner.invoke(app, ["fetch", "--url", missing.as_uri(), "-o", str(tmp_path / "x")])
    assert result.exit_code == 3
    assert one_error(result.stderr) == f"{missing}: no such file"


def test_url_without_scheme_naming_a_file_suggests_file(runner: CliRunner) -> None:
    relative = str(SAMPLE_NEW.relative_to(REPO))
    result = runner.invoke(app, ["prefixes", "--url", relative])
    assert result.exit_code == 2
    assert one_error(result.stderr) == (
        f"--url '{relative}' is a local file, not a URL: use --file {relative}"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mirror.example/ServiceTags_Public.json", "is not a URL: add https://"),
        ("ftp://mirror.example/x.json", "unsupported scheme 'ftp'; use https://"),
        ("file://otherhost/x.json", "a file URL names a local file (file:///PATH)"),
    ],
)
def test_url_that_cannot_be_fetched_is_a_usage_error(
    runner: CliRunner, url: str, message: str
) -> None:
    result = runner.invoke(app, ["prefixes", "--url", url])
    assert result.exit_code == 2
    assert message in one_error(result.stderr)


def test_file_dash_reads_stdin(runner: CliRunner, tmp_path: Path) -> None:
    # A real pipe into a real process: stdin is not a terminal, and the source is "<stdin>".
    state = tmp_path / "state"
    run = subprocess.run(
        [sys.executable, "-m", "tagsync", "update", "-f", "-", "--state-dir", str(state)],
        input=SAMPLE_NEW.read_bytes(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    meta = json.loads((state / "public" / "snapshot.json").read_text())
    assert meta["source"] == "<stdin>"
    result = runner.invoke(app, ["prefixes", "--state-dir", str(state)])
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW)


def test_stdin_keeps_the_checks_and_the_size_cap(runner: CliRunner, tmp_path: Path) -> None:
    data = SAMPLE_NEW.read_bytes()
    result = runner.invoke(app, ["prefixes", "-f", "-"], input=data[:300])
    assert result.exit_code == 3
    assert one_error(result.stderr) == "<stdin>: truncated JSON (ends after 300 bytes)"
    capped = config(tmp_path, "download:\n  max_bytes: 1000\n")
    result = runner.invoke(app, ["prefixes", "-f", "-", "-c", str(capped)], input=data)
    assert result.exit_code == 3
    assert one_error(result.stderr) == "<stdin>: over the 1000-byte cap"


# --- network failures -----------------------------------------------------------------------


def test_refused_port_says_so_and_what_to_do(runner: CliRunner, tmp_path: Path) -> None:
    port = closed_port()
    fast = config(tmp_path, "download:\n  retries: 1\n  backoff: 0\n")
    url = f"http://127.0.0.1:{port}/ServiceTags_Public_20250804.json?id=56519"
    result = runner.invoke(app, ["fetch", "--url", url, "-o", str(tmp_path / "x"), "-c", str(fast)])
    assert result.exit_code == 4
    assert one_error(result.stderr) == (
        f"{url}: connection refused by 127.0.0.1:{port} (gave up after 2 attempts); check the "
        "address and that the server is up, or use --file with a copy of the JSON file (--url "
        "for a mirror)"
    )
    assert not (tmp_path / "x").exists()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_unreachable_proxy_is_named_with_its_variable(
    runner: CliRunner, tmp_path: Path, no_proxy_env: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    no_proxy_env.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{port}")
    fast = config(tmp_path, "download:\n  retries: 0\n")
    # The page's host is never looked up: every request goes to the (closed) proxy.
    page = "https://www.download.invalid/en-us/download/details.aspx?id=56519"
    result = runner.invoke(
        app,
        [
            "prefixes",
            "--download",
            "--page-url",
            page,
            "-c",
            str(fast),
            "--state-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 4
    message = one_error(result.stderr)
    assert message.startswith(
        f"{page}: cannot reach the proxy http://***@127.0.0.1:{port} (HTTPS_PROXY): "
        "connection refused (gave up after 1 attempt); check HTTPS_PROXY (or unset it"
    )
    assert "pw" not in message


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[HTTPServer, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (and that certificate)."""
    cert, key = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/f.json").respond_with_data(SAMPLE_NEW.read_bytes())
    server.start()
    yield server, cert
    server.clear()
    if server.is_running():
        server.stop()


def test_untrusted_certificate_fails_at_once_with_a_hint(
    runner: CliRunner, tmp_path: Path, tls_server: tuple[HTTPServer, Path]
) -> None:
    server, cert = tls_server
    url = server.url_for("/f.json")
    assert url.startswith("https://127.0.0.1:")
    slow = config(tmp_path, SLOW_RETRIES)
    started = time.monotonic()
    result = runner.invoke(app, ["fetch", "--url", url, "-o", str(tmp_path / "x"), "-c", str(slow)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 4
    assert one_error(result.stderr) == (
        f"{url}: TLS certificate verification failed for 127.0.0.1 (self-signed certificate); "
        "behind a TLS-inspecting proxy, set download.verify to its CA bundle file"
    )
    assert elapsed < 30, "a TLS verification failure must not be retried"
    assert server.log == []  # no request ever got through the handshake
    # What the hint says works: the same server, trusted through download.verify.
    trusted = config(tmp_path, f"download:\n  verify: {cert}\n")
    result = runner.invoke(app, ["prefixes", "--url", url, "-c", str(trusted)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected_prefixes(SAMPLE_NEW)


def _isolated_resolver_command(resolv_conf: Path) -> list[str] | None:
    """A command prefix running a process in a private mount namespace whose
    /etc/resolv.conf names a closed loopback resolver; None where namespaces are not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    user_ns = [] if os.geteuid() == 0 else ["--map-root-user"]
    prefix = [unshare, "--mount", *user_ns, "sh", "-c"]
    script = f'mount --bind {resolv_conf} /etc/resolv.conf && exec "$@"'
    probe = subprocess.run([*prefix, script, "sh", "true"], capture_output=True, check=False)
    return [*prefix, script, "sh"] if probe.returncode == 0 else None


def test_dns_failure_is_named_and_not_retried(tmp_path: Path) -> None:
    # The resolver is 127.0.0.1:53, closed (or a local one): the query never leaves the
    # machine, whatever resolver the host has. `.invalid` never resolves (RFC 2606), and
    # /etc/hosts has no such name.
    assert ".invalid" not in Path("/etc/hosts").read_text()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    isolated = _isolated_resolver_command(resolv)
    if isolated is None:
        pytest.skip("no mount namespace here: cannot keep DNS queries on this machine")
    slow = config(tmp_path, SLOW_RETRIES)
    url = "https://download.invalid/ServiceTags_Public_20250804.json"
    command = [sys.executable, "-m", "tagsync", "fetch", "--url", url, "-o", str(tmp_path / "x")]
    started = time.monotonic()
    run = subprocess.run(
        [*isolated, *command, "-c", str(slow)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 4, run.stderr
    message = one_error(run.stderr)
    assert message.startswith(f"{url}: cannot resolve download.invalid (DNS lookup failed: ")
    assert message.endswith(
        "; check the network and DNS, set HTTPS_PROXY if this host needs a proxy, or use "
        "--file with a copy of the JSON file (--url for a mirror)"
    )
    assert "attempt" not in message
    assert elapsed < 30, "a DNS failure must not be retried"


# --- what is masked in messages and stored sources ------------------------------------------


def test_only_secrets_are_masked() -> None:
    page = "https://www.microsoft.com/en-us/download/details.aspx?id=56519"
    assert display_url(page) == page
    sas = "https://acct.blob.core.windows.net/c/f.json?sv=2024-01-01&se=2030&sp=r&sig=SECRET"
    assert display_url(sas) == (
        "https://acct.blob.core.windows.net/c/f.json?sv=***&se=***&sp=***&sig=***"
    )
    assert display_url("https://u:pw@h/f.json?id=1&access_token=T&api-key=K&Code=C") == (
        "https://***@h/f.json?id=1&access_token=***&api-key=***&Code=***"
    )


def test_page_id_stays_visible_in_errors(
    httpserver: HTTPServer, runner: CliRunner, tmp_path: Path
) -> None:
    httpserver.expect_request("/details.aspx").respond_with_data("gone", status=404)
    page = httpserver.url_for("/details.aspx") + "?id=56519&sig=SECRET"
    result = runner.invoke(
        app, ["prefixes", "--download", "--page-url", page, "--state-dir", str(tmp_path)]
    )
    assert result.exit_code == 4
    assert one_error(result.stderr) == (
        f"{httpserver.url_for('/details.aspx')}?id=56519&sig=***: HTTP 404 NOT FOUND"
    )
