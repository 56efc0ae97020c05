"""Microsoft Teams (incoming webhook or Workflows): an Adaptive Card in a message envelope."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tagsync.alerts.base import ChannelSettings, redact_url
from tagsync.alerts.http import post_json
from tagsync.alerts.summary import Shown, Summary, TagSummary, more, summarize
from tagsync.diff import ChangeSet

__all__ = ["TeamsChannel", "teams_payload"]

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"  # the newest version both Teams webhooks and Workflows render
_MARKDOWN = re.compile(r"([\\`*_\[\]()#+\-!>|~])")


def _escape(text: str) -> str:
    # TextBlock interprets a Markdown subset; names are data, not markup.
    return _MARKDOWN.sub(r"\\\1", text)


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _cidr_blocks(title: str, shown: Shown) -> list[dict[str, Any]]:
    if not shown.total:
        return []
    # Adaptive Card Markdown lists are separated by \r.
    items = [f"- {cidr}" for cidr in shown.items]
    if shown.hidden:
        items.append(f"- {more(shown.hidden)}")
    return [
        _text(f"**{title} ({shown.total})**", spacing="Small"),
        _text("\r".join(items), fontType="Monospace", spacing="None"),
    ]


def _tag_container(tag: TagSummary) -> dict[str, Any]:
    items = [
        _text(f"**{_escape(tag.name)}**", size="Medium"),
        {
            "type": "FactSet",
            "facts": [
                {"title": "Addresses", "value": tag.counts},
                {"title": "Tag", "value": tag.change_numbers},
            ],
        },
        *_cidr_blocks("Now reachable", tag.gained),
        *_cidr_blocks("No longer reachable", tag.lost),
    ]
    if tag.property_keys:
        keys = _escape(", ".join(tag.property_keys))
        items.append(_text(f"Other properties changed: {keys}", isSubtle=True))
    return {"type": "Container", "separator": True, "items": items}


def adaptive_card(summary: Summary) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _text(summary.title, size="Large", weight="Bolder", style="heading"),
        _text(summary.headline),
        {
            "type": "FactSet",
            "facts": [
                {"title": "Cloud", "value": _escape(summary.cloud)},
                {"title": "Version", "value": summary.change_numbers},
                {"title": "Now reachable", "value": summary.now_reachable},
                *(
                    [{"title": "Deploy by", "value": _escape(summary.deploy_by)}]
                    if summary.deploy_by
                    else []
                ),
                {"title": "No longer reachable", "value": summary.no_longer_reachable},
                {"title": "Tags", "value": _escape(summary.tag_names)},
            ],
        },
        *(_tag_container(tag) for tag in summary.tags),
    ]
    if summary.flaps.total:
        head, *items = summary.flap_lines
        body.append(_text(f"**{head}**", separator=True))
        body.append(_text("\r".join(f"- {_escape(item)}" for item in items), spacing="None"))
    if summary.hidden_tags:
        body.append(_text(f"{more(summary.hidden_tags)} tags; see tagsync diff", isSubtle=True))
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }


def teams_payload(summary: Summary) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": adaptive_card(summary),
            }
        ],
    }


@dataclass(frozen=True, slots=True)
class TeamsChannel:
    settings: ChannelSettings
    url: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.settings.name} (teams {redact_url(self.url)})"

    def send(self, changes: ChangeSet) -> None:
        summary = summarize(
            changes, max_prefixes=self.settings.max_prefixes, max_tags=self.settings.max_tags
        )
        post_json(self.url, teams_payload(summary), self.settings)
