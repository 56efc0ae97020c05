"""Download pages shaped like Microsoft's, pointing at a loopback server instead of Microsoft."""

from __future__ import annotations

import json

from conftest import shared_file

REAL_LINK = (
    "https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/"
    "ServiceTags_Public_20200504.json"
)


def confirmation_page(json_url: str) -> str:
    """The real 2020 confirmation.aspx excerpt with its 5 JSON links pointed at ``json_url``."""
    page = shared_file("pages/confirmation_56519_20200504.EXCERPT.html").read_text("utf-8")
    assert page.count(REAL_LINK) == 5
    return page.replace(REAL_LINK, json_url)


def details_page(json_url: str, file_name: str) -> str:
    """A current details.aspx-style page embedding window.__DLCDetails__ (JSON-escaped slashes)."""
    details = json.loads(shared_file("pages/dlcdetails_56519_testmock.json").read_text("utf-8"))
    entry = details["dlcDetailsView"]["downloadFile"][0]
    entry["url"], entry["name"] = json_url, file_name
    embedded = json.dumps(details).replace("/", "\\/")
    return (
        "<!DOCTYPE html><html><head><title>Azure IP Ranges and Service Tags</title></head>"
        f"<body><div id='root'></div><script>window.__DLCDetails__={embedded}</script>"
        "</body></html>"
    )
