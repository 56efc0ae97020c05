"""Logging for unattended runs: quiet by default, ``--verbose`` for detail, JSON lines on demand.

Levels: NOTICE (between INFO and WARNING) carries what cron must mail: changes. Quiet runs show
NOTICE and up, so a run with nothing to report prints nothing; ``--verbose`` shows DEBUG and up.
Only the ``tagsync`` logger is configured: library loggers (urllib3 logs request URLs, which may
hold webhook tokens) are kept at WARNING whatever the verbosity.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["LOG_FORMATS", "NOTICE", "JsonFormatter", "TextFormatter", "configure", "get_logger"]

NOTICE = 25
LOG_FORMATS = ("text", "json")
LOGGER_NAME = "tagsync"
logging.addLevelName(NOTICE, "NOTICE")

# Attributes every LogRecord has; anything else came in through ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            document.setdefault(key, value)
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``tagsync: message`` like the other commands; errors say so, detail lines are indented."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            message = f"error: {message}"
        elif record.levelno == logging.WARNING:
            message = f"warning: {message}"
        first, *rest = message.split("\n")
        return "\n".join([f"tagsync: {first}", *rest])


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure(
    *,
    verbose: bool = False,
    quiet: bool = False,
    log_format: str = "text",
    stream: TextIO | None = None,
) -> logging.Logger:
    """Send the tagsync logger to ``stream`` (stderr) in the chosen format; returns the logger.

    Levels: ``quiet`` shows warnings and errors only, the default adds NOTICE (changes, notes),
    ``verbose`` everything.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else NOTICE)
    logger.propagate = False
    for noisy in ("urllib3", "requests", "filelock", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logger
