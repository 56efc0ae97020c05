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
from conftest import SAMPLE_NEW, public, shared_file
from typer.testing import CliRunner

from tagsync.cli import app
from tagsync.config import load_config
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


def directives(files: dict[str, str], *names: str) -> list[list[str]]:
    return [
        line.split()
        for name in names
        for line in files[name].splitlines()
        if line and not line.startswith("#")
    ]


def test_snippets_allow_only_the_service_on_443_and_certificates_on_80() -> None:
    files = render({"host": "proxy.example.net"})
    found = directives(files, "proxy/squid.conf", "proxy/squid-sslbump.conf")
    assert ["acl", "tagsync_mdi_domains", "dstdomain", ".atp.azure.com"] in found
    assert ["acl", "tagsync_mdi_https", "port", "443"] in found
    assert ["acl", "tagsync_mdi_connect", "method", "CONNECT"] in found
    assert ["acl", "tagsync_mdi_tls", "ssl::server_name", ".atp.azure.com"] in found
    assert ["acl", "tagsync_mdi_http", "port", "80"] in found
    assert ["acl", "tagsync_mdi_fetch", "method", "GET", "HEAD"] in found
    assert [
        "acl", "tagsync_mdi_cert_hosts", "dstdomain", "crl.microsoft.com", "ctldl.windowsupdate.com"
    ] in found  # fmt: skip
    allows = [d for d in found if d[0] == "http_access"]
    assert allows == [
        ["http_access", "allow", "tagsync_mdi_connect", "tagsync_mdi_https", "tagsync_mdi_domains"],
        ["http_access", "allow", "tagsync_mdi_fetch", "tagsync_mdi_http", "tagsync_mdi_cert_hosts"],
        ["http_access", "allow", "tagsync_mdi_fetch", "tagsync_mdi_http", "tagsync_mdi_cert_paths"],
    ]
    # The certificate rules can be left out (a site that manages trust lists another way).
    found = directives(
        render({"host": "p.example", "certificate_hosts": False}), "proxy/squid.conf"
    )
    assert [d for d in found if d[0] == "http_access"] == allows[:1]


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
    rf"|\(name == (?P<host>{_STRING}) && shExpMatch\(url, (?P<url>{_STRING})\)\)"
)


def parse_pac(text: str) -> tuple[list[tuple[str, str]], str]:
    """Strictly parse the PAC: comment lines, then exactly the expected function shape.

    Returns the tests as (kind, value) and the proxy directive; string literals are decoded
    as JSON, which a literal with anything but plain JSON escapes fails. A URL test must be
    for its own host's plain-HTTP URLs.
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
        elif found["url"]:
            host, url = json.loads(found["host"]), json.loads(found["url"])
            assert url.startswith(f"http://{host}/") and url.endswith("/*"), part
            tests.append(("url", url))
        else:
            suffix, apex = json.loads(found["suffix"]), json.loads(found["apex"])
            assert suffix == "." + apex
            tests.append(("suffix", suffix))
    return tests, json.loads(match["proxy"])


CERTIFICATE_TESTS = [
    ("exact", "crl.microsoft.com"),
    ("exact", "ctldl.windowsupdate.com"),
    ("url", "http://www.microsoft.com/pkiops/*"),
    ("url", "http://www.microsoft.com/pki/*"),
]


def test_pac_structure_and_values() -> None:
    files = render({"host": "Proxy.Example.NET", "port": 8080})
    tests, proxy = parse_pac(files["proxy/proxy.pac"])
    assert tests == [("suffix", ".atp.azure.com"), *CERTIFICATE_TESTS]
    assert proxy == "PROXY proxy.example.net:8080"
    files = render({"host": "fd00::1", "domains": [".atp.azure.com", "other.example.org"]})
    tests, proxy = parse_pac(files["proxy/proxy.pac"])
    assert tests == [
        ("suffix", ".atp.azure.com"),
        ("exact", "other.example.org"),
        *CERTIFICATE_TESTS,
    ]
    assert proxy == "PROXY [fd00::1]:3128"
    files = render({"host": "p.example", "workspace": "Contoso-Corp", "certificate_hosts": False})
    assert parse_pac(files["proxy/proxy.pac"])[0] == [
        ("exact", "contoso-corpsensorapi.atp.azure.com")
    ]


PAC_HARNESS = r"""
const fs = require("fs");
// dnsDomainIs and shExpMatch as the PAC standard defines them: does host end with domain,
// does the string match the shell expression (* any run, ? one character)?
function dnsDomainIs(host, domain) {
    return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function shExpMatch(str, shexp) {
    const quoted = shexp.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    return new RegExp("^" + quoted.replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(str);
}
eval(fs.readFileSync(process.argv[2], "utf8"));
const urls = JSON.parse(process.argv[3]);
console.log(JSON.stringify(urls.map((u) => FindProxyForURL(u, new URL(u).hostname))));
"""


def run_pac(tmp_path: Path, pac: str, urls: list[str]) -> list[str]:
    script = tmp_path / "proxy.js"
    script.write_text(pac)
    check = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    harness = tmp_path / "harness.js"
    harness.write_text(PAC_HARNESS)
    run = subprocess.run(
        ["node", str(harness), str(script), json.dumps(urls)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    result: list[str] = json.loads(run.stdout)
    return result


@needs_node
def test_pac_runs_in_node(tmp_path: Path) -> None:
    files = render({"host": "proxy.example.net", "port": 8080})
    hosts = ["sensor.atp.azure.com", "X.ATP.Azure.com", "atp.azure.com", "evilatp.azure.com",
             "atp.azure.com.example.org", "example.org"]  # fmt: skip
    urls = [f"https://{h}/" for h in hosts]
    proxy = "PROXY proxy.example.net:8080"
    expected = [proxy, proxy, proxy, "DIRECT", "DIRECT", "DIRECT"]
    assert run_pac(tmp_path, files["proxy/proxy.pac"], urls) == expected


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


# --- workspace hosts per cloud and profile, in the real Squid and in node -----------------------
WORKSPACE = "contoso-corp"
USGOV = "servicetags/usgov/ServiceTags_AzureGovernment_20251020.json"
CHINA = "servicetags/china/ServiceTags_China_20251020.json"


def render_file(relative: str, section: dict[str, Any]) -> dict[str, str]:
    path = shared_file(relative)
    st = parse_service_tags(path.read_bytes(), source=str(path))
    return render_formats(st, [TAG], ["proxy"], settings=render_settings({"proxy": section}))


def service_names(files: dict[str, str]) -> tuple[list[str], list[str]]:
    """The dstdomain list of the CONNECT rule and the ssl::server_name list of the splice."""
    found = directives(files, "proxy/squid.conf", "proxy/squid-sslbump.conf")
    connect = next(d[3:] for d in found if d[:3] == ["acl", "tagsync_mdi_domains", "dstdomain"])
    splice = next(d[3:] for d in found if d[:3] == ["acl", "tagsync_mdi_tls", "ssl::server_name"])
    return connect, splice


@pytest.mark.parametrize(
    ("relative", "section", "expected"),
    [
        (None, {}, "contoso-corpsensorapi.atp.azure.com"),
        (USGOV, {"usgov_offering": "gcc"}, "contoso-corpsensorapi.gcc.atp.azure.com"),
        (USGOV, {"usgov_offering": "gcc-high"}, "contoso-corpsensorapi.atp.azure.us"),
        (USGOV, {"usgov_offering": "dod"}, "contoso-corpsensorapi.atp.azure.us"),
    ],
)
def test_workspace_allows_exactly_its_sensor_host(
    relative: str | None, section: dict[str, Any], expected: str
) -> None:
    options = {"host": "proxy.example.net", "workspace": WORKSPACE, **section}
    files = render_file(relative, options) if relative else render(options)
    assert service_names(files) == ([expected], [expected])
    tests, _ = parse_pac(files["proxy/proxy.pac"])
    assert tests == [("exact", expected), *CERTIFICATE_TESTS]


@pytest.mark.parametrize(
    ("relative", "offering", "expected"),
    [(None, None, ".endpoint.security.microsoft.com"),
     (USGOV, "gcc-high", ".endpoint.security.microsoft.us")],
)  # fmt: skip
def test_v3_allows_the_streamlined_domain(
    relative: str | None, offering: str | None, expected: str
) -> None:
    options = {"host": "p.example", "profile": "mdi-v3", "workspace": WORKSPACE}
    if offering:
        options["usgov_offering"] = offering
    files = render_file(relative, options) if relative else render(options)
    assert service_names(files) == ([expected], [expected])
    assert "workspace is not used" in files["proxy/squid.conf"]


def test_clouds_without_a_documented_host_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="usgov_offering") as usgov:
        render_file(USGOV, {"host": "p.example", "workspace": WORKSPACE})
    with pytest.raises(ConfigError, match=r"china cloud: set render\.proxy\.domains") as china:
        render_file(CHINA, {"host": "p.example"})
    for error in (usgov, china):
        assert "\n" not in str(error.value)
    explicit = render_file(CHINA, {"host": "p.example", "domains": ["sensor.example.cn"]})
    assert service_names(explicit) == (["sensor.example.cn"], ["sensor.example.cn"])


@pytest.mark.parametrize(
    "workspace", ["-contoso", "contoso-", "a" * 64, "contoso.corp", "contoso corp", "", 7]
)
def test_bad_workspace_is_a_one_line_error(workspace: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workspace") as error:
        render_settings({"proxy": {"workspace": workspace}})
    assert "\n" not in str(error.value)
    config = tmp_path / "config.yaml"
    config.write_text(f"workspace: {json.dumps(workspace)}\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(config))}: workspace .*DNS label"):
        load_config(config)


CERTIFICATE_OK = [
    "http://crl.microsoft.com/pki/crl/products/MicRooCerAut2011_2011_03_22.crl",
    "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
    "http://www.microsoft.com/pkiops/crl/Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2003.crl",
    "http://www.microsoft.com/pki/certs/MicRooCerAut2011_2011_03_22.crt",
]
CERTIFICATE_REFUSED = [
    "http://www.microsoft.com/",
    "http://www.microsoft.com/pkiopsx/crl/a.crl",
    "http://www.microsoft.com.attacker.example/pkiops/crl/a.crl",
    "http://crl.microsoft.com.attacker.example/pki/crl/a.crl",
    "http://attacker.example/?http://www.microsoft.com/pki/",
    f"http://{WORKSPACE}sensorapi.atp.azure.com/",
]
# (profile, TLS hosts allowed, TLS hosts refused: look-alikes and the other profile's host)
CASES = {
    "mdi-v2": (
        [f"{WORKSPACE}sensorapi.atp.azure.com"],
        ["evilsensorapi.atp.azure.com.attacker.example", f"{WORKSPACE}sensorapi.atp.azure.com.x",
         f"x{WORKSPACE}sensorapi.atp.azure.com", "othersensorapi.atp.azure.com", "atp.azure.com",
         "www.microsoft.com", "crl.microsoft.com", "abc.endpoint.security.microsoft.com"],
    ),
    "mdi-v3": (
        ["abc.endpoint.security.microsoft.com", "endpoint.security.microsoft.com"],
        ["endpoint.security.microsoft.com.attacker.example", "evilendpoint.security.microsoft.com",
         "abc.endpoint.security.microsoft.com.x", f"{WORKSPACE}sensorapi.atp.azure.com",
         "www.microsoft.com"],
    ),
}  # fmt: skip


def profile_files(profile: str) -> dict[str, str]:
    return render({"host": "proxy.example.net", "profile": profile, "workspace": WORKSPACE})


@needs_squid
@pytest.mark.parametrize("profile", sorted(CASES))
def test_live_squid_tunnels_exactly_the_allowed_hosts(profile: str, tmp_path: Path) -> None:
    from squidlive import live_squid

    assert SQUID is not None
    allowed, refused = CASES[profile]
    names = [
        *allowed,
        *refused,
        *(url.split("/")[2] for url in CERTIFICATE_OK + CERTIFICATE_REFUSED),
    ]
    snippet = profile_files(profile)["proxy/squid.conf"]
    with live_squid(SQUID, snippet, names) as squid:
        for host in allowed:
            assert squid.connect(host) == (200, ""), host
            assert squid.connect(host, 80)[0] == 403, host  # TLS port only
        for host in refused:
            assert squid.connect(host) == (403, "ERR_ACCESS_DENIED 0"), host
        for url in CERTIFICATE_OK:
            assert squid.get(url) == (200, ""), url
        for url in CERTIFICATE_REFUSED:
            assert squid.get(url) == (403, "ERR_ACCESS_DENIED 0"), url


@needs_node
@pytest.mark.parametrize("profile", sorted(CASES))
def test_pac_sends_exactly_the_allowed_hosts_to_the_proxy(profile: str, tmp_path: Path) -> None:
    allowed, refused = CASES[profile]
    tls_refused = [h for h in refused if h not in ("www.microsoft.com", "crl.microsoft.com")]
    urls_proxy = [f"https://{h}/" for h in allowed] + CERTIFICATE_OK
    # A PAC file picks a route by host, not by port or scheme: plain HTTP to the sensor's host
    # goes to the proxy too, which refuses it (the live Squid test above).
    urls_direct = [f"https://{h}/" for h in tls_refused] + CERTIFICATE_REFUSED[:-1]
    result = run_pac(tmp_path, profile_files(profile)["proxy/proxy.pac"], urls_proxy + urls_direct)
    proxy = "PROXY proxy.example.net:3128"
    assert dict(zip(urls_proxy + urls_direct, result, strict=True)) == {
        **{url: proxy for url in urls_proxy},
        **{url: "DIRECT" for url in urls_direct},
    }


def test_cli_workspace_from_the_config_and_a_bad_one(runner: CliRunner, tmp_path: Path) -> None:
    base = ["render", "proxy", "-f", str(public("20251006")), "--state-dir", str(tmp_path / "s")]
    config = tmp_path / "config.yaml"
    config.write_text(f"workspace: {WORKSPACE}\nrender:\n  proxy:\n    host: proxy.example.net\n")
    result = runner.invoke(app, [*base, "-c", str(config), "--out", "-"])
    assert result.exit_code == 0, result.stderr
    assert f"dstdomain {WORKSPACE}sensorapi.atp.azure.com\n" in result.stdout
    v3 = runner.invoke(app, [*base, "-c", str(config), "--out", "-", "--profile", "mdi-v3"])
    assert "dstdomain .endpoint.security.microsoft.com\n" in v3.stdout
    config.write_text("workspace: contoso_corp\n")
    bad = runner.invoke(app, [*base, "-c", str(config), "--out", "-"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1
    assert f"{config}: workspace 'contoso_corp' is not a DNS label" in bad.stderr
