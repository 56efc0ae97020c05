"""A real Squid on loopback for the proxy format's tests, and a fake upstream.

Squid resolves every test host through its own ``hosts_file`` to one random 127/8 address,
where a small server accepts TLS-port connections (443) and answers plain HTTP (80). Nothing
leaves the machine: ``dns_nameservers`` is loopback too, so a name missing from the hosts file
fails to resolve instead of reaching a real resolver.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import random
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LiveSquid", "live_squid"]


class _Hold(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        # The tunnel's far end: accept, read until the client goes.
        with contextlib.suppress(OSError):
            self.request.settimeout(5)
            while self.request.recv(4096):
                pass


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"upstream ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class LiveSquid:
    port: int
    upstream: str

    def _exchange(self, request: bytes) -> tuple[int, str]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as conn:
            conn.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status = int(head.split()[1])
        error = next(
            (line.split(":", 1)[1].strip() for line in head.splitlines()
             if line.lower().startswith("x-squid-error:")),
            "",
        )  # fmt: skip
        return status, error

    def connect(self, host: str, port: int = 443) -> tuple[int, str]:
        """CONNECT host:port: (status, X-Squid-Error)."""
        return self._exchange(
            f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        )

    def get(self, url: str) -> tuple[int, str]:
        """A plain-HTTP GET through the proxy: (status, X-Squid-Error)."""
        host = url.split("/")[2]
        return self._exchange(
            f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(address: str, port: int, handler: type[socketserver.BaseRequestHandler]) -> _Server:
    server = _Server((address, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextlib.contextmanager
def live_squid(squid: str, snippet: str, hosts: Iterable[str]) -> Iterator[LiveSquid]:
    """Run ``squid -N`` with ``snippet`` included, every one of ``hosts`` resolving to a fake
    upstream on 127/8 (ports 443 and 80); stopped on exit."""
    # Squid started as root reads its hosts file and writes its log as its own user, which
    # cannot reach pytest's private tmp_path: a directory of its own under /tmp.
    with tempfile.TemporaryDirectory(prefix="tagsync-squid-") as name:
        workdir = Path(name)
        os.chmod(workdir, 0o755)
        with _running(squid, workdir, snippet, hosts) as live:
            yield live


@contextlib.contextmanager
def _running(squid: str, workdir: Path, snippet: str, hosts: Iterable[str]) -> Iterator[LiveSquid]:
    upstream = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    servers = [_serve(upstream, 443, _Hold), _serve(upstream, 80, _Answer)]
    (workdir / "log").mkdir(mode=0o777)
    os.chmod(workdir / "log", 0o777)
    (workdir / "hosts").write_text("".join(f"{upstream} {host}\n" for host in hosts))
    (workdir / "snippet.conf").write_text(snippet)
    port = _free_port()
    (workdir / "squid.conf").write_text(
        f"http_port 127.0.0.1:{port}\n"
        "pid_filename none\n"
        f"cache_log {workdir / 'log' / 'cache.log'}\n"
        "access_log none\n"
        "cache deny all\n"
        f"coredump_dir {workdir}\n"
        f"hosts_file {workdir / 'hosts'}\n"
        "dns_nameservers 127.0.0.1\n"
        "dns_timeout 2 seconds\n"
        "shutdown_lifetime 0 seconds\n"
        f"include {workdir / 'snippet.conf'}\n"
        "http_access deny all\n"
    )
    process = subprocess.Popen(
        [squid, "-N", "-f", str(workdir / "squid.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"squid exited: {process.stderr.read() if process.stderr else ''}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("squid did not start listening within 30 s")
            time.sleep(0.1)
        yield LiveSquid(port, upstream)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for server in servers:
            server.shutdown()
            server.server_close()
