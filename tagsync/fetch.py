"""Get Service Tags JSON bytes: from the download page, a direct URL or a local file.

Downloads use requests with connect/read timeouts, bounded retries with exponential backoff on
refused connections, timeouts and 5xx (never on 4xx, DNS or TLS verification failures: see
tagsync.fetch_errors), TLS verification on, proxies from the environment (HTTPS_PROXY,
NO_PROXY), a size cap, and a rich progress bar only on a TTY. A failure says its cause and
what to do (tagsync.fetch_errors).

Local sources: ``--file PATH``, ``--file -`` (standard input, shown as ``<stdin>``) and
``--url file:///PATH`` read the file with the same size cap and validation. A ``--url``
without a scheme (``samples/x.json``) is refused with a hint to use ``--file``: reading a
local file because a URL lacks its ``https://`` would hide a typo in a cron job's config.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from tagsync import __version__
from tagsync.clouds import Cloud
from tagsync.config import DownloadSettings
from tagsync.errors import ConfigError, DataError, DownloadError
from tagsync.fetch_errors import describe_failure, display_url

if TYPE_CHECKING:
    import requests

__all__ = [
    "Fetched",
    "display_url",
    "download",
    "fetch_service_tags",
    "find_json_link",
    "local_path",
    "read_file",
]

_LINK = re.compile(r"""https?://[^\s"'<>\\]+?/(ServiceTags_[A-Za-z]+_(\d{8})\.json)""")
# Links on the page are trusted only when they point at Microsoft's download host or at the
# page's own host (a mirror, or the loopback server in tests).
_TRUSTED_LINK_HOSTS = {"download.microsoft.com"}
_CHUNK = 64 * 1024
STDIN = "<stdin>"  # the source name of ``--file -``
_USER_AGENT = f"tagsync/{__version__} (+service tag firewall sync)"


@dataclass(frozen=True, slots=True)
class Fetched:
    """Raw bytes of a service tags file and where they came from."""

    data: bytes
    source: str  # file path or final URL without credentials, for messages and snapshot metadata
    url: str = ""  # the final URL as fetched (may carry a token): never printed or stored


def read_file(path: Path, max_bytes: int) -> Fetched:
    """Read a local file (``-``: standard input), refusing anything over the size cap."""
    if str(path) == "-":
        return _read_stdin(max_bytes)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"{path}: file is {size} bytes, over the {max_bytes}-byte cap")
        return Fetched(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a JSON file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def _read_stdin(max_bytes: int) -> Fetched:
    if sys.stdin is None or sys.stdin.isatty():
        raise ConfigError("--file -: standard input is a terminal; pipe the JSON file in")
    data = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(f"{STDIN}: over the {max_bytes}-byte cap")
    return Fetched(data, STDIN)


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL names; None for http(s). Anything else is a ConfigError:
    a path without a scheme gets a hint to use --file instead."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and "://" in url:
        if not parts.hostname:
            raise ConfigError(f"--url {display_url(url)}: no host name in the URL")
        return None
    if scheme == "file" and url[5:7] == "//":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"--url {url}: a file URL names a local file (file:///PATH)")
        # Imported here: urllib.request pulls in http.client and email (~14 ms) at start-up.
        from urllib.request import url2pathname

        return Path(url2pathname(parts.path))
    if "://" in url:
        raise ConfigError(
            f"--url: unsupported scheme {parts.scheme!r:.20}; use https://, http:// or file://"
        )
    shown = f"{url!r:.80}"
    if Path(url).is_file():
        raise ConfigError(f"--url {shown} is a local file, not a URL: use --file {url}")
    raise ConfigError(
        f"--url {shown} is not a URL: add https:// for a web address, or use --file for a "
        "local file"
    )


def find_json_link(page: str, page_url: str, cloud: Cloud) -> str:
    """Find the current JSON file link in a download page (old or current page layout).

    The page embeds the link several times (script data, noscript refresh, file table); JSON
    escaping (``\\/``) is undone first. When several dated files are linked, the newest wins.
    """
    text = page.replace("\\/", "/").replace("\\u002f", "/").replace("\\u002F", "/")
    page_host = urlsplit(page_url).hostname or ""
    candidates: list[tuple[str, str]] = []
    for match in _LINK.finditer(text):
        url, file_name, date = match.group(0), match.group(1), match.group(2)
        if not file_name.startswith(cloud.file_prefix + "_"):
            continue
        host = urlsplit(url).hostname or ""
        if host in _TRUSTED_LINK_HOSTS or host == page_host:
            candidates.append((date, urljoin(page_url, url)))
    if not candidates:
        raise DownloadError(
            f"{display_url(page_url)}: no {cloud.file_prefix}_YYYYMMDD.json link found in the "
            "download page "
            "(page layout changed? use --url with the file's address)"
        )
    newest = max(date for date, _ in candidates)
    return next(url for date, url in candidates if date == newest)


class _Retryable(Exception):
    """A failure worth another attempt (connection trouble, timeout, 5xx, cut-off transfer)."""

    def __init__(self, cause: str, hint: str = "") -> None:
        super().__init__(cause)
        self.hint = hint


@contextmanager
def _progress(total: int | None, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _get_once(
    session: requests.Session, url: str, settings: DownloadSettings, show_progress: bool
) -> tuple[bytes, str]:
    import requests

    shown = display_url(url)
    try:
        with session.get(
            url,
            stream=True,
            timeout=(settings.connect_timeout, settings.read_timeout),
            verify=settings.verify,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json, text/html;q=0.9"},
        ) as response:
            if response.status_code >= 500:
                raise _Retryable(f"HTTP {response.status_code} {response.reason}")
            if response.status_code >= 400:
                raise DownloadError(f"{shown}: HTTP {response.status_code} {response.reason}")
            declared = response.headers.get("Content-Length")
            total = int(declared) if declared and declared.isdigit() else None
            if total is not None and total > settings.max_bytes:
                raise DownloadError(
                    f"{shown}: response is {total} bytes, over the {settings.max_bytes}-byte cap"
                )
            chunks: list[bytes] = []
            received = 0
            with _progress(total, urlsplit(url).path.rsplit("/", 1)[-1], show_progress) as tick:
                for chunk in response.iter_content(_CHUNK):
                    received += len(chunk)
                    if received > settings.max_bytes:
                        raise DownloadError(
                            f"{shown}: response exceeds the {settings.max_bytes}-byte cap"
                        )
                    chunks.append(chunk)
                    tick(len(chunk))
            return b"".join(chunks), response.url
    except requests.exceptions.ChunkedEncodingError:
        raise _Retryable("connection closed before the whole body arrived") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        failure = describe_failure(exc, url, settings.connect_timeout)
        if failure.retry:
            raise _Retryable(failure.cause, failure.hint) from None
        raise DownloadError(f"{shown}: {failure.cause}; {failure.hint}") from None
    except requests.exceptions.RequestException as exc:
        raise DownloadError(f"{shown}: {type(exc).__name__} ({exc!s:.120})") from None


def download(
    url: str,
    settings: DownloadSettings,
    *,
    show_progress: bool | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Download ``url`` with bounded retries; raise DownloadError once they are used up."""
    import requests

    if show_progress is None:
        show_progress = sys.stderr.isatty()
    own_session = session is None
    session = session or requests.Session()
    try:
        last = _Retryable("")
        for attempt in range(settings.retries + 1):
            if attempt:
                sleep(settings.backoff * 2 ** (attempt - 1))
            try:
                data, final_url = _get_once(session, url, settings, show_progress)
                return Fetched(data, display_url(final_url), final_url)
            except _Retryable as exc:
                last = exc
        tries = settings.retries + 1
        hint = f"; {last.hint}" if last.hint else ""
        raise DownloadError(
            f"{display_url(url)}: {last} (gave up after {tries} attempt{'s' * (tries > 1)}){hint}"
        )
    finally:
        if own_session:
            session.close()


def fetch_service_tags(
    cloud: Cloud,
    settings: DownloadSettings,
    *,
    url: str | None = None,
    file: Path | None = None,
    show_progress: bool | None = None,
) -> Fetched:
    """Get the raw file from ``file``, ``url``, or else via the cloud's download page."""
    if file is not None:
        return read_file(file, settings.max_bytes)
    if url is not None:
        return _get(url, settings, show_progress)
    page_url = settings.page_url or cloud.page_url
    page = _get(page_url, settings, False)
    link = find_json_link(page.data.decode("utf-8", "replace"), page.url, cloud)
    return download(link, settings, show_progress=show_progress)


def _get(url: str, settings: DownloadSettings, show_progress: bool | None) -> Fetched:
    """Download ``url``, or read the local file a file:// URL names."""
    path = local_path(url)
    if path is not None:
        return read_file(path, settings.max_bytes)
    return download(url, settings, show_progress=show_progress)
