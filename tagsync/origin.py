"""Strings that remember where they were written, so an error about them blames that place.

A tag name read from ``tags:`` in a config file flows through the commands as a plain string;
as a :class:`ConfigValue` it still equals that string everywhere, but a message about an
unknown name can say ``config.yaml: tags: ...`` instead of blaming the command line.
"""

from __future__ import annotations

__all__ = ["ConfigValue", "written_at"]


class ConfigValue(str):
    """A string read from a config file; ``where`` is ``FILE: key``."""

    where: str

    def __new__(cls, value: str, where: str) -> ConfigValue:
        instance = super().__new__(cls, value)
        instance.where = where
        return instance


def written_at(value: str) -> str | None:
    """Where ``value`` was written (``FILE: key``), or None for a command-line value."""
    return value.where if isinstance(value, ConfigValue) else None
