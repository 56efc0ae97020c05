"""Get Service Tags JSON bytes: from the download page, a direct URL or a local file.

Downloads use requests with connect/read timeouts, bounded retries with exponential backoff on
connection errors, timeouts and 5xx (never on 4xx), TLS verification on, proxies from the
environment (HTTPS_PROXY, NO_PROXY), a size cap, and a rich progress bar only on a TTY.
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
from tagsync.errors import DataError, DownloadError

if TYPE_CHECKING:
    import requests

__all__ = [
    "Fetched",
    "display_url",
    "download",
    "fetch_service_tags",
    "find_json_link",
    "read_file",
]

_LINK = re.compile(r"""https?://[^\s"'<>\\]+?/(ServiceTags_[A-Za-z]+_(\d{8})\.json)""")
# Links on the page are trusted only when they point at Microsoft's download host or at the
# page's own host (a mirror, or the loopback server in tests).
_TRUSTED_LINK_HOSTS = {"download.microsoft.com"}
_CHUNK = 64 * 1024
_USER_AGENT = f"tagsync/{__version__} (+service tag firewall sync)"


@dataclass(frozen=True, slots=True)
class Fetched:
    """Raw bytes of a service tags file and where they came from."""

    data: bytes
    source: str  # file path or final URL without credentials, for messages and snapshot metadata
    url: str = ""  # the final URL as fetched (may carry a token): never printed or stored


def display_url(url: str) -> str:
    """``url`` fit to print and store: user:password@ and the query string (SAS tokens,
    signatures) are replaced, the rest kept so the message still says which file failed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def read_file(path: Path, max_bytes: int) -> Fetched:
    """Read a local file, refusing anything over the size cap."""
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
    except requests.exceptions.SSLError as exc:
        # Not retried: a bad certificate will not get better in a second.
        raise DownloadError(f"{shown}: TLS verification failed ({_reason(exc)})") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise _Retryable(_reason(exc)) from None
    except requests.exceptions.ChunkedEncodingError:
        raise _Retryable("connection closed before the whole body arrived") from None
    except requests.exceptions.RequestException as exc:
        raise DownloadError(f"{shown}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """A short reason: requests nests the interesting part a few levels deep."""
    name = type(exc).__name__
    if "timed out" in str(exc).lower() or "Timeout" in name:
        return "timed out"
    if "refused" in str(exc).lower():
        return "connection refused"
    return name


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
        last = ""
        for attempt in range(settings.retries + 1):
            if attempt:
                sleep(settings.backoff * 2 ** (attempt - 1))
            try:
                data, final_url = _get_once(session, url, settings, show_progress)
                return Fetched(data, display_url(final_url), final_url)
            except _Retryable as exc:
                last = str(exc)
        tries = settings.retries + 1
        raise DownloadError(
            f"{display_url(url)}: {last} (gave up after {tries} attempt{'s' * (tries > 1)})"
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
        return download(url, settings, show_progress=show_progress)
    page_url = settings.page_url or cloud.page_url
    page = download(page_url, settings, show_progress=False)
    link = find_json_link(page.data.decode("utf-8", "replace"), page.url, cloud)
    return download(link, settings, show_progress=show_progress)
