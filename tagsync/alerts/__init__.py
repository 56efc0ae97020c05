"""Alert channels (generic webhook, Slack, Teams, email) and delivery to all of them.

Each channel lives in its own module behind the small :class:`Channel` protocol; this module
only sends one ChangeSet to every channel and collects what failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tagsync.alerts.base import Channel, DeliveryError
from tagsync.alerts.config import load_channels
from tagsync.diff import ChangeSet

__all__ = ["Channel", "DeliveryError", "load_channels", "send_alerts"]


def send_alerts(channels: Sequence[Channel], changes: ChangeSet, log: logging.Logger) -> list[str]:
    """Send ``changes`` to every channel; return one secret-free message per failed channel.

    A failing channel never stops the others: every destination gets its chance.
    """
    failures: list[str] = []
    for channel in channels:
        try:
            channel.send(changes)
        except DeliveryError as exc:
            failures.append(str(exc))
            log.error("alert not delivered: %s", exc, extra={"event": "alert_failed"})
        else:
            log.info("alert sent to %s", channel.label, extra={"event": "alert_sent"})
    return failures
