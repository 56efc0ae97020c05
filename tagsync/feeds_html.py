"""The feed tree's ``index.html``: every feed with its counts, last change and deploy-by date, and
per watched tag a small inline SVG chart of its entry count over the kept history.

Deploy-by is the first day Microsoft may use the addresses a tag's last change gained: that
version's publication + 7 days (tagsync.published). An asterisk marks a date counted from the
day the file was accepted, because its name carried no publication date.

Static HTML and SVG only (no script), so it reads the same in a text browser, a locked-down
admin workstation or a headless check. Every value is HTML-escaped, tag names included although
they were validated already. The numbers come from the same index as ``index.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from tagsync.feeds_history import Point, TagTrend

__all__ = ["render_page"]

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.trend{display:inline-block;margin:0 2em 1.5em 0;vertical-align:top}
.trend table{font-size:12px}svg{background:#fafafa;border:1px solid #ccc}
.muted{color:#777}
""".strip()

_WIDTH, _HEIGHT, _PAD = 360, 96, 14


def _number(value: int) -> str:
    return f"{value:,}"


def _chart(name: str, points: Sequence[Point]) -> str:
    """A line of entry counts, one dot per version, min/max labelled; titles as tooltips."""
    counts = [p.entries for p in points]
    low, high = min(counts), max(counts)
    span = (high - low) or 1
    inner_w, inner_h = _WIDTH - 2 * _PAD - 40, _HEIGHT - 2 * _PAD
    step = inner_w / (len(points) - 1) if len(points) > 1 else 0.0

    def xy(index: int, count: int) -> tuple[float, float]:
        x = _PAD + 40 + (index * step if len(points) > 1 else inner_w / 2)
        y = _PAD + (inner_h / 2 if high == low else inner_h * (high - count) / span)
        return round(x, 1), round(y, 1)

    coords = [xy(i, p.entries) for i, p in enumerate(points)]
    label = f"{name}: entries per kept version, {_number(low)} to {_number(high)}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="2" y="{_PAD + 4}" font-size="10">{_number(high)}</text>',
        f'<text x="2" y="{_HEIGHT - _PAD + 4}" font-size="10">{_number(low)}</text>',
    ]
    if len(coords) > 1:
        line = " ".join(f"{x},{y}" for x, y in coords)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for (x, y), point in zip(coords, points, strict=True):
        tip = (
            f"{point.label}: {_number(point.entries)} entries (changeNumber {point.change_number})"
        )
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="3" fill="#1565c0"><title>{escape(tip)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _trend(name: str, trend: TagTrend) -> str:
    rows = "".join(
        f"<tr><td>{escape(p.label)}</td><td class=n>{p.change_number}</td>"
        f"<td class=n>{p.tag_change_number}</td><td class=n>{_number(p.entries)}</td></tr>"
        for p in trend.points
    )
    return (
        f'<figure class="trend" data-tag="{escape(name)}"><figcaption><b>{escape(name)}</b> '
        f"({len(trend.points)} version{'s' if len(trend.points) != 1 else ''})</figcaption>"
        f"{_chart(name, trend.points)}"
        "<table><thead><tr><th>version</th><th>changeNumber</th><th>tag changeNumber</th>"
        f"<th>entries</th></tr></thead><tbody>{rows}</tbody></table></figure>"
    )


_ACCEPTED_MARK = (
    '<abbr class="accepted" title="counted from the day the file was accepted: '
    'its name carried no publication date">*</abbr>'
)


def _day(day: object, basis: object) -> str:
    mark = _ACCEPTED_MARK if basis == "accepted" else ""
    return f'<time datetime="{escape(str(day))}">{escape(str(day))}</time>{mark}'


def _last_change(entry: Mapping[str, Any], trend: TagTrend | None) -> str:
    text = f"changeNumber {int(entry['change_number'])}"
    change = entry.get("last_change")
    if isinstance(change, Mapping):
        if change.get("published"):
            return f"{text}, since {_day(change['published'], change.get('published_basis'))}"
        return f"{text}, since this file"
    if trend is None:
        return text
    since = ("&le; " if trend.since_oldest_kept else "") + escape(trend.since)
    return f"{text}, since {since}"


def _deploy_by(entry: Mapping[str, Any]) -> str:
    deploy_by = entry.get("deploy_by")
    if not deploy_by:
        return "&mdash;"
    change = entry.get("last_change")
    basis = change.get("published_basis") if isinstance(change, Mapping) else None
    return _day(deploy_by, basis)


def _row(name: str, entry: Mapping[str, Any], trend: TagTrend | None) -> str:
    tag = escape(name)
    links = " ".join(
        f'<a href="{tag}/{file}">{label}</a>'
        for file, label in (
            ("ipv4.txt", "v4"),
            ("ipv6.txt", "v6"),
            ("all.txt", "all"),
            ("checkpoint.json", "Check&nbsp;Point"),
        )
    )
    return (
        f'<tr data-tag="{tag}"><td class="tag">{tag}</td>'
        f'<td class="n ipv4">{_number(int(entry["ipv4"]))}</td>'
        f'<td class="n ipv6">{_number(int(entry["ipv6"]))}</td>'
        f'<td class="n all">{_number(int(entry["all"]))}</td>'
        f'<td class="n published">{_number(int(entry["published_prefixes"]))}</td>'
        f'<td class="last-change">{_last_change(entry, trend)}</td>'
        f'<td class="deploy-by">{_deploy_by(entry)}</td>'
        f"<td>{links}</td></tr>"
    )


def render_page(index: Mapping[str, Any], trends: Mapping[str, TagTrend]) -> bytes:
    """``index.html`` for one cloud's tree, from its index and the watched tags' trends."""
    cloud = escape(str(index["cloud"]))
    published = index.get("publication_date")
    shown = _day(published, index.get("publication_basis")) if published else "unknown"
    tags: Mapping[str, Any] = index["tags"]
    head = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Azure service tag feeds: {cloud}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>Azure service tag feeds: {cloud}</h1>\n"
        f'<p id="version">changeNumber <b id="change-number">{int(index["change_number"])}</b>'
        f', published <b id="published">{shown}</b>, '
        f'<span id="tag-count">{len(tags)}</span> feeds. '
        f'<a href="index.json">index.json</a> lists every file with its sha256.</p>\n'
        '<p class="muted">Entries are aggregated CIDRs (what feed limits count). Each list has '
        "a <code>.sha256</code> beside it. <b>Deploy by</b>: when the tag&rsquo;s last change "
        "gained addresses, the first day Microsoft may use them (publication + 7 days); "
        "&lsquo;*&rsquo;: counted from the day the file was accepted, as its name carried no "
        "date; &mdash;: the last change gained nothing, or is older than the kept history.</p>\n"
    )
    watched = "".join(_trend(name, trend) for name, trend in trends.items())
    section = f'<h2>Watched tags</h2>\n<div id="trends">{watched}</div>\n' if watched else ""
    rows = "\n".join(_row(name, entry, trends.get(name)) for name, entry in tags.items())
    table = (
        '<h2>Feeds</h2>\n<table id="feeds"><thead><tr><th>Tag</th><th>IPv4</th><th>IPv6</th>'
        "<th>All</th><th>Published prefixes</th><th>Last change</th><th>Deploy by</th>"
        f"<th>Files</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n</body></html>\n"
    )
    return (head + section + table).encode("utf-8")
