"""The exception hierarchy: each error carries the exit code the CLI maps it to.

Exit codes (documented in README):
    0 ok / no change, 1 change found, 2 usage error, 3 bad data or refused by a guard,
    4 download failure, 5 alert delivery failure, 6 local file system failure (state dir,
    output dir, report or metrics file, lock: missing, not a directory, read-only, disk full).
"""

from __future__ import annotations

__all__ = [
    "EXIT_ALERT",
    "EXIT_CHANGED",
    "EXIT_DATA",
    "EXIT_DOWNLOAD",
    "EXIT_LOCAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "AlertError",
    "ConfigError",
    "DataError",
    "DownloadError",
    "GuardError",
    "LocalError",
    "LockError",
    "MissingSecretError",
    "TagsyncError",
    "UnknownTagError",
]

EXIT_OK = 0
EXIT_CHANGED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_DOWNLOAD = 4
EXIT_ALERT = 5
EXIT_LOCAL = 6


class TagsyncError(Exception):
    """Base class: a failure with a one-line message meant for the user, and an exit code."""

    exit_code = EXIT_DATA

    def __init__(self, message: str) -> None:
        # One line only: messages end up in cron mail and log lines.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class DataError(TagsyncError):
    """The service tags data is malformed, inconsistent or not what was asked for."""

    exit_code = EXIT_DATA


class UnknownTagError(DataError):
    """A requested tag is not in the data."""


class GuardError(DataError):
    """A safety guard (rollback, mass removal, empty output) refused to go on."""


class ConfigError(TagsyncError):
    """The configuration file or an option value is invalid."""

    exit_code = EXIT_USAGE


class MissingSecretError(ConfigError):
    """An environment variable the config names for a secret is not set."""


class LockError(TagsyncError):
    """Another tagsync run holds the state directory lock."""

    exit_code = EXIT_DATA


class DownloadError(TagsyncError):
    """The download page or file could not be fetched."""

    exit_code = EXIT_DOWNLOAD


class AlertError(TagsyncError):
    """One or more alert channels failed to deliver."""

    exit_code = EXIT_ALERT


class LocalError(TagsyncError):
    """A local file or directory tagsync needs cannot be read or written."""

    exit_code = EXIT_LOCAL

    @classmethod
    def from_os_error(cls, exc: OSError, path: object = None, action: str = "") -> LocalError:
        """``PATH: cannot ACTION (cause)``, the path being the one the OS named if it did."""
        where = exc.filename if exc.filename is not None else path
        cause = exc.strerror or type(exc).__name__
        doing = f"cannot {action} " if action else ""
        return cls(f"{where}: {doing}({cause})" if doing else f"{where}: {cause}")
