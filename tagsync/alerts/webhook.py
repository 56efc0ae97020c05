"""Generic webhook: POST the full diff document (the same JSON as `tagsync diff --format json`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tagsync.alerts.base import ChannelSettings, redact_url
from tagsync.alerts.http import post_json
from tagsync.diff import ChangeSet

__all__ = ["WebhookChannel"]


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    settings: ChannelSettings
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{self.settings.name} (webhook {redact_url(self.url)})"

    def send(self, changes: ChangeSet) -> None:
        # Machines get everything: no truncation, so a receiver can apply the diff itself.
        post_json(self.url, changes.to_dict(), self.settings, headers=self.headers)
