"""The proxy format: Squid snippets parsed by the real squid, the PAC file by node and a strict
parser, and no config value can reach either as syntax."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_NEW, public
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.errors import ConfigError
from tagsync.formats.registry import site_neutral
from tagsync.model import parse_service_tags
from tagsync.render import render_formats, render_settings

TAG = "AzureAdvancedThreatProtection"
SQUID = os.environ.get("TAGSYNC_SQUID") or shutil.which("squid")
needs_squid = pytest.mark.skipif(SQUID is None, reason="squid is not installed")
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def render(section: dict[str, Any]) -> dict[str, str]:
    path = public("20251006")
    st = parse_service_tags(path.read_bytes(), source=str(path))
    return render_formats(st, [TAG], ["proxy"], settings=render_settings({"proxy": section}))


def squid_parse(tmp_path: Path, snippet: str, before: str = "") -> subprocess.CompletedProcess[str]:
    """``squid -k parse`` of a minimal config that includes ``snippet`` (no port is opened)."""
    assert SQUID is not None
    (tmp_path / "snippet.conf").write_text(snippet)
    config = tmp_path / "squid.conf"
    config.write_text(
        f"{before}include {tmp_path / 'snippet.conf'}\n"
        "http_access deny all\nhttp_port 127.0.0.1:3128\n"
    )
    return subprocess.run(
        [SQUID, "-k", "parse", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def squid_problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if re.search(r"FATAL|ERROR|WARNING", line)]


@needs_squid
def test_squid_snippet_parses(tmp_path: Path) -> None:
    files = render({"host": "proxy.example.net"})
    result = squid_parse(tmp_path, files["proxy/squid.conf"])
    assert result.returncode == 0 and not squid_problems(result), result.stderr
    # Squid really read every directive of the snippet.
    for line in files["proxy/squid.conf"].splitlines():
        if line and not line.startswith("#"):
            assert f"Processing: {line}" in result.stderr, line


@needs_squid
def test_squid_snippet_with_clients_fits_a_debian_style_config(tmp_path: Path) -> None:
    files = render({"host": "proxy.example.net", "clients": ["10.0.0.20", "fd00::/64"]})
    snippet = files["proxy/squid.conf"]
    assert "acl tagsync_mdi_clients src 10.0.0.20/32 fd00::/64" in snippet
    before = (
        "acl SSL_ports port 443\nacl CONNECT method CONNECT\nhttp_access deny CONNECT !SSL_ports\n"
    )
    result = squid_parse(tmp_path, snippet, before)
    assert result.returncode == 0 and not squid_problems(result), result.stderr


@needs_squid
def test_squid_parse_check_can_fail(tmp_path: Path) -> None:
    """The check above means something: squid refuses a misspelled ACL reference."""
    snippet = render({"host": "proxy.example.net"})["proxy/squid.conf"]
    result = squid_parse(tmp_path, snippet.replace("tagsync_mdi_https tagsync", "nosuch tagsync"))
    assert result.returncode != 0


def squid_has_openssl() -> bool:
    if SQUID is None:
        return False
    version = subprocess.run([SQUID, "-v"], capture_output=True, text=True, check=False).stdout
    return "--with-openssl" in version


@pytest.mark.skipif(
    not squid_has_openssl(),
    reason="ssl_bump needs a Squid built with OpenSSL (Debian squid-openssl; TAGSYNC_SQUID=path)",
)
def test_sslbump_snippet_parses_and_splices(tmp_path: Path) -> None:
    files = render({"host": "proxy.example.net"})
    text = files["proxy/squid-sslbump.conf"]
    result = squid_parse(tmp_path, text)
    assert result.returncode == 0 and not squid_problems(result), result.stderr
    rules = [line for line in text.splitlines() if line.startswith("ssl_bump")]
    # Splice only (never bump, stare or peek): this traffic must not be inspected.
    assert rules == ["ssl_bump splice tagsync_mdi_tls"]


def test_snippets_allow_only_the_service_on_443() -> None:
    files = render({"host": "proxy.example.net"})
    directives = [
        line.split()
        for name in ("proxy/squid.conf", "proxy/squid-sslbump.conf")
        for line in files[name].splitlines()
        if line and not line.startswith("#")
    ]
    assert ["acl", "tagsync_mdi_domains", "dstdomain", ".atp.azure.com"] in directives
    assert ["acl", "tagsync_mdi_https", "port", "443"] in directives
    assert ["acl", "tagsync_mdi_connect", "method", "CONNECT"] in directives
    assert ["acl", "tagsync_mdi_tls", "ssl::server_name", ".atp.azure.com"] in directives
    allows = [d for d in directives if d[0] == "http_access"]
    assert allows == [
        ["http_access", "allow", "tagsync_mdi_connect", "tagsync_mdi_https", "tagsync_mdi_domains"]
    ]


# --- PAC file ----------------------------------------------------------------------------------
_STRING = r'"(?:[^"\\]|\\.)*"'
_PAC = re.compile(
    r"function FindProxyForURL\(url, host\) \{\n"
    r"    var name = host\.toLowerCase\(\);\n"
    rf"    if \((?P<tests>(?:[^\n]|\n        )+)\) \{{\n"
    rf"        return (?P<proxy>{_STRING});\n"
    r"    \}\n"
    r'    return "DIRECT";\n'
    r"\}\n"
)
_TEST = re.compile(
    rf"dnsDomainIs\(name, (?P<suffix>{_STRING})\) \|\| name == (?P<apex>{_STRING})"
    rf"|name == (?P<exact>{_STRING})"
)


def parse_pac(text: str) -> tuple[list[tuple[str, str]], str]:
    """Strictly parse the PAC: comment lines, then exactly the expected function shape.

    Returns the host tests as (kind, domain) and the proxy directive; string literals are
    decoded as JSON, which a literal with anything but plain JSON escapes fails.
    """
    lines = text.splitlines(keepends=True)
    body_start = next(i for i, line in enumerate(lines) if not line.startswith("//"))
    assert all(line.startswith(("// ", "//\n")) for line in lines[:body_start])
    match = _PAC.fullmatch("".join(lines[body_start:]))
    assert match, text
    tests: list[tuple[str, str]] = []
    for part in match["tests"].split(" ||\n        "):
        found = _TEST.fullmatch(part)
        assert found, part
        if found["exact"]:
            tests.append(("exact", json.loads(found["exact"])))
        else:
            suffix, apex = json.loads(found["suffix"]), json.loads(found["apex"])
            assert suffix == "." + apex
            tests.append(("suffix", suffix))
    return tests, json.loads(match["proxy"])


def test_pac_structure_and_values() -> None:
    files = render({"host": "Proxy.Example.NET", "port": 8080})
    tests, proxy = parse_pac(files["proxy/proxy.pac"])
    assert tests == [("suffix", ".atp.azure.com")]
    assert proxy == "PROXY proxy.example.net:8080"
    files = render({"host": "fd00::1", "domains": [".atp.azure.com", "other.example.org"]})
    tests, proxy = parse_pac(files["proxy/proxy.pac"])
    assert tests == [("suffix", ".atp.azure.com"), ("exact", "other.example.org")]
    assert proxy == "PROXY [fd00::1]:3128"


PAC_HARNESS = """
const fs = require("fs");
// dnsDomainIs as the PAC standard defines it: does host end with domain?
function dnsDomainIs(host, domain) {
    return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
eval(fs.readFileSync(process.argv[2], "utf8"));
const hosts = JSON.parse(process.argv[3]);
console.log(JSON.stringify(hosts.map((h) => FindProxyForURL("https://" + h + "/", h))));
"""


@needs_node
def test_pac_runs_in_node(tmp_path: Path) -> None:
    files = render({"host": "proxy.example.net", "port": 8080})
    script = tmp_path / "proxy.js"
    script.write_text(files["proxy/proxy.pac"])
    check = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    hosts = ["sensor.atp.azure.com", "X.ATP.Azure.com", "atp.azure.com", "evilatp.azure.com",
             "atp.azure.com.example.org", "example.org"]  # fmt: skip
    harness = tmp_path / "harness.js"
    harness.write_text(PAC_HARNESS)
    run = subprocess.run(
        ["node", str(harness), str(script), json.dumps(hosts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    proxy = "PROXY proxy.example.net:8080"
    assert json.loads(run.stdout) == [proxy, proxy, proxy, "DIRECT", "DIRECT", "DIRECT"]


# --- configuration and safety ------------------------------------------------------------------
@pytest.mark.parametrize(
    "section",
    [
        {"host": 'p"; return "DIRECT'},
        {"host": "p\n}"},
        {"host": "proxy example"},
        {"host": "proxy.example.net:8080"},
        {"host": "[fd00::1"},
        {"host": "\u0440roxy.example.net"},
        {"host": "-proxy.example.net"},
        {"host": 8080},
        {"host": "proxy.example.net", "port": 70000},
        {"host": "proxy.example.net", "port": "8080"},
        {"domains": [".atp.azure.com\nhttp_access allow all"]},
        {"domains": ['.atp.azure.com")||true||("']},
        {"domains": ["*.atp.azure.com"]},
        {"domains": []},
        {"domains": [".azure.com", ".atp.azure.com"]},
        {"clients": ["10.0.0.0/8 all"]},
        {"clients": []},
        {"unknown": 1},
    ],
)
def test_bad_proxy_config_is_refused(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        render_settings({"proxy": section})


def test_without_a_proxy_host_the_format_is_a_clear_error() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes())
    with pytest.raises(ConfigError, match=r"render\.proxy\.host"):
        render_formats(st, [TAG], ["proxy"])
    assert "proxy" not in site_neutral()


def test_cli_proxy(runner: CliRunner, state_dir: Path, tmp_path: Path) -> None:
    base = ["-f", str(SAMPLE_NEW), "--state-dir", str(state_dir)]
    result = runner.invoke(app, ["render", "proxy", *base, "--out", "-"])
    assert result.exit_code == 2 and "render.proxy.host" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    config = tmp_path / "config.yaml"
    config.write_text("render:\n  proxy:\n    host: proxy.corp.example\n    port: 8080\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", "proxy", *base, "-c", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (out / "proxy").iterdir()) == [
        "proxy.pac",
        "squid-sslbump.conf",
        "squid.conf",
    ]
    assert '"PROXY proxy.corp.example:8080"' in (out / "proxy/proxy.pac").read_text()
