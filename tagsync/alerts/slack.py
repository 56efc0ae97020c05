"""Slack incoming webhook: a Block Kit message with a header, totals and per-tag CIDR lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tagsync.alerts.base import ChannelSettings, redact_url
from tagsync.alerts.http import post_json
from tagsync.alerts.summary import Shown, Summary, TagSummary, more, summarize
from tagsync.diff import ChangeSet

__all__ = ["SlackChannel", "slack_payload"]

_SECTION_LIMIT = 3000  # Slack rejects section text longer than this


def _escape(text: str) -> str:
    # Slack mrkdwn treats these three as control characters (links, mentions).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cidr_lines(title: str, shown: Shown) -> list[str]:
    if not shown.total:
        return []
    lines = [f"*{title} ({shown.total})*"]
    lines += [f"`{_escape(cidr)}`" for cidr in shown.items]
    if shown.hidden:
        lines.append(f"_{more(shown.hidden)}_")
    return lines


def _tag_block(tag: TagSummary) -> dict[str, Any]:
    lines = [
        f"*{_escape(tag.name)}*: {tag.counts}, {tag.change_numbers}",
        *_cidr_lines("Now reachable", tag.gained),
        *_cidr_lines("No longer reachable", tag.lost),
    ]
    if tag.property_keys:
        lines.append(f"Other properties changed: {_escape(', '.join(tag.property_keys))}")
    text = "\n".join(lines)
    if len(text) > _SECTION_LIMIT:
        text = text[: _SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_payload(summary: Summary) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": summary.title[:150]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Cloud*\n{_escape(summary.cloud)}"},
                {
                    "type": "mrkdwn",
                    "text": f"*Version*\n{summary.change_numbers}",
                },
                {"type": "mrkdwn", "text": f"*Tags changed*\n{summary.tag_total}"},
                {"type": "mrkdwn", "text": f"*Re-aggregated only*\n{summary.reaggregated_total}"},
                {"type": "mrkdwn", "text": f"*Now reachable*\n{summary.now_reachable}"},
                {"type": "mrkdwn", "text": f"*No longer reachable*\n{summary.no_longer_reachable}"},
            ],
        },
        {"type": "divider"},
    ]
    if summary.deploy_by:
        text = (
            f"*Deploy by* {_escape(summary.deploy_by)}: Microsoft may use the new ranges from then"
        )
        blocks.insert(2, {"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks += [_tag_block(tag) for tag in summary.tags]
    if summary.flaps.total:
        text = "\n".join(_escape(line) for line in summary.flap_lines)
        if len(text) > _SECTION_LIMIT:
            text = text[: _SECTION_LIMIT - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if summary.hidden_tags:
        text = f"_{more(summary.hidden_tags)} tags; see `tagsync diff`_"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    # ``text`` is what notifications and clients without Block Kit show.
    return {"text": f"{summary.title}: {summary.headline}", "blocks": blocks}


@dataclass(frozen=True, slots=True)
class SlackChannel:
    settings: ChannelSettings
    url: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.settings.name} (slack {redact_url(self.url)})"

    def send(self, changes: ChangeSet) -> None:
        summary = summarize(
            changes, max_prefixes=self.settings.max_prefixes, max_tags=self.settings.max_tags
        )
        post_json(self.url, slack_payload(summary), self.settings)
