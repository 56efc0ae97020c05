"""Say why a download failed, in words, with what to do about it; and whether to try again.

requests wraps the cause a few levels deep (``ConnectionError`` > urllib3 ``MaxRetryError`` >
``NameResolutionError`` > ``socket.gaierror``); the whole chain is searched for it.

Retry policy: a refused connection, a timeout or a reset may be gone in a few seconds (a
server restarting, a congested link), so they are retried. Two causes are not, because
another attempt gets the same answer and only delays the error:

* a DNS failure: the stub resolver has already retried (resolv.conf ``attempts``, 5 s
  ``timeout`` each) before answering; "no such name" is an authoritative answer, and "no
  answer" after those retries means no usable resolver, which backoff seconds do not cure
  (the next scheduled run is the retry);
* a TLS verification failure: the certificate presented will be the same one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Failure", "describe_failure", "display_url"]

# Query parameters that carry credentials: Azure SAS (sig and the fields it signs), S3/GCS
# presigned URLs (X-Amz-*/X-Goog-*), OAuth codes and tokens, API keys. Everything else (the
# download page's public ?id=56519) is shown as is.
_SECRET_PARAMS = {"sig", "se", "sv", "st", "sp", "sr", "spr", "ss", "srt", "code", "key"}
_SECRET_WORDS = (
    *("token", "secret", "password", "passwd", "pwd", "signature", "credential"),
    *("apikey", "_key", "-key", "auth", "session", "x-amz-", "x-goog-", "sas"),
)

_OFFLINE_HINT = "or use --file with a copy of the JSON file (--url for a mirror)"


def _is_secret(name: str) -> bool:
    folded = name.lower()
    return folded in _SECRET_PARAMS or any(word in folded for word in _SECRET_WORDS)


def display_url(url: str) -> str:
    """``url`` fit to print and store: user:password@ and the values of credential-like
    query parameters (``sig=``, ``token=`` ...) are replaced by ``***``; the rest is kept so
    the message still says which file failed."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    query = "&".join(_masked(field) for field in parts.query.split("&")) if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{'?' if query else ''}{query}"


def _masked(field: str) -> str:
    name, equals, _value = field.partition("=")
    if not equals:
        return "***" if _is_secret(name) or len(name) > 24 else field  # a bare token
    return f"{name}=***" if _is_secret(name) else field


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed, what to do about it, and whether another attempt may help."""

    cause: str
    hint: str
    retry: bool


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (cause, context, urllib3's reason, args)."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(item.args)


def _first(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((item for item in _chain(exc) if isinstance(item, kind)), None)


def _proxy_for(url: str) -> tuple[str, str]:
    """The proxy requests takes from the environment for ``url`` and the variable naming it."""
    import requests.utils

    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) or ""
    scheme = urlsplit(url).scheme
    for variable in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if proxy and os.environ.get(variable) == proxy:
            return proxy, variable
    return proxy, "the proxy settings"


def describe_failure(exc: BaseException, url: str, connect_timeout: float) -> Failure:
    """The cause of a failed request for ``url``, a hint, and whether to retry."""
    import ssl

    import requests
    import urllib3.exceptions

    parts = urlsplit(url)
    host = parts.hostname or "?"
    at = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    kind, reason, retry = _low_level(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        proxy, variable = _proxy_for(url)
        shown = display_url(proxy) if proxy else "the proxy"
        return Failure(
            f"cannot reach the proxy {shown} ({variable}): {reason}",
            f"check {variable} (or unset it to connect directly), {_OFFLINE_HINT}",
            retry,
        )
    verify = _first(exc, ssl.SSLCertVerificationError)
    if verify is not None or isinstance(exc, requests.exceptions.SSLError):
        detail = getattr(verify, "verify_message", "") or "handshake failed"
        return Failure(
            f"TLS certificate verification failed for {host} ({detail})",
            "behind a TLS-inspecting proxy, set download.verify to its CA bundle file",
            retry=False,
        )
    if kind == "dns":
        return Failure(
            f"cannot resolve {host} ({reason})",
            f"check the network and DNS, set HTTPS_PROXY if this host needs a proxy, "
            f"{_OFFLINE_HINT}",
            retry,
        )
    if kind == "refused":
        hint = f"check the address and that the server is up, {_OFFLINE_HINT}"
        return Failure(f"connection refused by {at}", hint, retry)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure(
            f"no connection to {at} within {connect_timeout:g} s (timed out)",
            f"check the network, firewall or HTTPS_PROXY, {_OFFLINE_HINT}",
            retry=True,
        )
    if isinstance(exc, requests.exceptions.ReadTimeout) or _first(
        exc, urllib3.exceptions.ReadTimeoutError
    ):
        return Failure(f"{host} stopped sending (read timed out)", _OFFLINE_HINT, retry=True)
    return Failure(f"connection to {at} failed ({reason})", _OFFLINE_HINT, retry)


def _low_level(exc: BaseException) -> tuple[str, str, bool]:
    """(kind, words, retry) for the socket-level cause: dns, refused, timeout or other."""
    import socket

    dns = _first(exc, socket.gaierror)
    if isinstance(dns, OSError):
        return "dns", f"DNS lookup failed: {dns.strerror or 'no address'}", False
    if _first(exc, ConnectionRefusedError) is not None:
        return "refused", "connection refused", True
    if _first(exc, TimeoutError) is not None:
        return "timeout", "timed out", True
    detail = next(
        (e.strerror for e in _chain(exc) if isinstance(e, OSError) and e.strerror),
        type(exc).__name__,
    )
    return "other", detail, True
