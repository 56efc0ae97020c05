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

__all__ = [
    "LOG_FORMATS",
    "NOTICE",
    "REPORT_FIELD",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "get_logger",
]

NOTICE = 25
# A record with this extra field set is the run's change report (stdout in text format).
REPORT_FIELD = "report"
LOG_FORMATS = ("text", "json")
LOGGER_NAME = "tagsync"
logging.addLevelName(NOTICE, "NOTICE")

# Attributes every LogRecord has; anything else came in through ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    REPORT_FIELD,
}


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


class _StandardStream(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """A handler writing to whatever ``sys.stderr`` (or stdout) is when a record is emitted.

    Binding the stream once would keep a closed one after a test runner (or a redirect)
    swapped it, and every later message would be lost with a "Logging error".
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._name)
        return stream

    @stream.setter
    def stream(self, value: TextIO) -> None:  # logging.StreamHandler.__init__ assigns it
        pass


def _for_stdout(record: logging.LogRecord) -> bool:
    return bool(getattr(record, REPORT_FIELD, False))


def configure(
    *,
    verbose: bool = False,
    quiet: bool = False,
    log_format: str = "text",
    stream: TextIO | None = None,
) -> logging.Logger:
    """Send the tagsync logger to stderr (or ``stream``) in the chosen format; returns it.

    Levels: ``quiet`` shows warnings and errors only, the default adds NOTICE (changes, notes),
    ``verbose`` everything. In text format a record logged with ``extra={REPORT_FIELD: True}``
    (the change report of a run) goes to stdout instead: the report is the output, the rest
    is diagnostics. In JSON format everything is one object per line on stderr.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    errors: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StandardStream("stderr")
    )
    if log_format == "json":
        errors.setFormatter(JsonFormatter())
    else:
        errors.setFormatter(TextFormatter())
        errors.addFilter(lambda record: not _for_stdout(record))
        report = _StandardStream("stdout")
        report.setFormatter(logging.Formatter("%(message)s"))
        report.addFilter(_for_stdout)
        logger.addHandler(report)
    logger.addHandler(errors)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else NOTICE)
    logger.propagate = False
    for noisy in ("urllib3", "requests", "filelock", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logger
