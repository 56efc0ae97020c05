"""POST a JSON document to a webhook with timeouts and bounded retries, never echoing the URL.

Error messages are built here from status codes and exception classes only: requests puts the
full URL (with its token) into exception text, so that text is never passed on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tagsync import __version__
from tagsync.alerts.base import (
    ChannelSettings,
    PermanentFailure,
    TransientFailure,
    redact_url,
    with_retries,
)

__all__ = ["post_json"]

_USER_AGENT = f"tagsync/{__version__}"


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "timed out" in text or "timeout" in type(exc).__name__.lower():
        return "timed out"
    if "refused" in text:
        return "connection refused"
    return type(exc).__name__


def post_json(
    url: str,
    payload: Any,
    settings: ChannelSettings,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST ``payload`` as JSON; any 2xx is success, 5xx/429/network trouble are retried."""
    import requests

    body = json.dumps(payload, ensure_ascii=False, sort_keys=False).encode("utf-8")
    all_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": _USER_AGENT,
        **(headers or {}),
    }

    def attempt() -> None:
        try:
            response = requests.post(
                url,
                data=body,
                headers=all_headers,
                timeout=(settings.timeout, settings.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            raise PermanentFailure("TLS verification failed") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TransientFailure(_reason(exc)) from None
        except requests.exceptions.RequestException as exc:
            raise PermanentFailure(_reason(exc)) from None
        with response:
            status = response.status_code
            if 200 <= status < 300:
                return
            if status >= 500 or status == 429:
                raise TransientFailure(f"HTTP {status}")
            # Redirects are not followed: a POST to a moved webhook should be fixed in the config.
            raise PermanentFailure(f"HTTP {status}")

    with_retries(attempt, settings, redact_url(url))
