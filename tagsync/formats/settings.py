"""The ``render`` section of the config: one validated options object per format.

Each format reads its own section, ``render.<format>`` (``render.iptables.chain``,
``render.nftables.table``, ...). Keys of the previous release are still read, with a
deprecation warning naming the new key: the flat ``render.<knob>`` names (``render.chain``,
``render.nft_table``, also the template names ``options.<knob>``) and ``render.mdi_sensor``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tagsync.errors import ConfigError
from tagsync.formats.base import FormatOptions, did_you_mean

__all__ = ["LEGACY_KEYS", "RenderSettings", "UserOptions", "render_settings", "warn_deprecated"]

OptionsT = TypeVar("OptionsT", bound=FormatOptions)
Warn = Callable[[str], None]

# Flat knob names of the previous release -> (format, key). Read for one more release.
LEGACY_KEYS: dict[str, tuple[str, str]] = {
    "chain": ("iptables", "chain"),
    "ipset_v4": ("iptables", "set_v4"),
    "ipset_v6": ("iptables", "set_v6"),
    "nft_table": ("nftables", "table"),
    "nft_set_v4": ("nftables", "set_v4"),
    "nft_set_v6": ("nftables", "set_v6"),
    "panos_prefix": ("paloalto", "name_prefix"),
    "panos_group_limit": ("paloalto", "group_member_limit"),
    "panos_rule": ("paloalto", "rule_name"),
    "panos_from_zone": ("paloalto", "from_zone"),
    "panos_to_zone": ("paloalto", "to_zone"),
    "panos_vsys": ("paloalto", "vsys"),
    "panos_device": ("paloalto", "device"),
    "windows_group": ("windows", "group"),
    "windows_chunk": ("windows", "chunk_size"),
    "er_resource_group": ("expressroute", "resource_group"),
    "er_circuit": ("expressroute", "circuit"),
    "er_route_filter": ("expressroute", "route_filter"),
    "er_rule": ("expressroute", "rule_name"),
    "er_location": ("expressroute", "location"),
    "er_communities": ("expressroute", "communities"),
    "mdi_chain_out": ("mdi-sensor", "chain_out"),
    "mdi_chain_in": ("mdi-sensor", "chain_in"),
    "mdi_nft_table": ("mdi-sensor", "nft_table"),
    "mdi_windows_group": ("mdi-sensor", "windows_group"),
    "proxy_host": ("proxy", "host"),
    "proxy_port": ("proxy", "port"),
    "proxy_domains": ("proxy", "domains"),
    "proxy_clients": ("proxy", "clients"),
}
LEGACY_SECTIONS = {"mdi_sensor": "mdi-sensor"}


def warn_deprecated(message: str) -> None:
    # Through the tagsync logger: plain on stderr, or JSON under `check --log-format json`.
    logging.getLogger("tagsync").warning("%s", message)


@dataclass(frozen=True, slots=True)
class UserOptions(FormatOptions):
    """A user format's ``render.<name>`` section: plain values its templates quote themselves."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(key) from None

    @classmethod
    def from_section(cls, raw: object, where: str) -> UserOptions:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping")
        for key, value in raw.items():
            items = value if isinstance(value, list) else [value]
            if not isinstance(key, str) or not key.isidentifier():
                raise ConfigError(f"{where}: key {key!r:.40} is not a plain name")
            if not all(isinstance(i, str | int | float | bool) for i in items):
                raise ConfigError(f"{where}.{key}: values must be text, numbers or lists of them")
        return cls(dict(raw))


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Every format's options, by format name; a format without a section gets its defaults."""

    by_format: Mapping[str, FormatOptions] = field(default_factory=dict)

    def get(self, options_type: type[OptionsT]) -> OptionsT:
        """The options of the format whose options class is ``options_type``."""
        for options in self.by_format.values():
            if type(options) is options_type:
                return options
        return options_type()

    def of(self, format_name: str, options_type: type[FormatOptions]) -> FormatOptions:
        found = self.by_format.get(format_name)
        return found if found is not None else options_type()

    def with_options(self, name: str, options: FormatOptions) -> RenderSettings:
        """A copy with ``options`` for format ``name`` (for callers building settings in code)."""
        return RenderSettings({**self.by_format, name: options})


def render_settings(
    section: object, user_formats: Iterable[str] = (), warn: Warn = warn_deprecated
) -> RenderSettings:
    """Validate ``config.section("render")`` (None: every default). ``user_formats`` are the
    names of template formats whose sections may appear too."""
    from tagsync.formats.registry import BUILTIN

    if section is None:
        return RenderSettings()
    if not isinstance(section, dict):
        raise ConfigError("render must be a mapping")
    user = set(user_formats)
    sections: dict[str, Any] = {}
    flat: dict[str, dict[str, Any]] = {}
    for key, body in section.items():
        name = LEGACY_SECTIONS.get(str(key), str(key))
        if name != key:
            warn(f"render.{key} is deprecated: rename it render.{name}")
        if name in BUILTIN or name in user:
            if isinstance(sections.get(name), dict) and isinstance(body, dict):
                body = {**sections[name], **body}  # both spellings given: the new one wins
            sections[name] = body
        elif key in LEGACY_KEYS:
            fmt, new_key = LEGACY_KEYS[key]
            warn(f"render.{key} is deprecated: use render.{fmt}.{new_key}")
            flat.setdefault(fmt, {})[new_key] = body
        else:
            choices = [*BUILTIN, *sorted(user)]
            raise ConfigError(
                f"render: unknown key {str(key)!r:.60}{did_you_mean(str(key), choices)}; "
                f"sections are format names: {', '.join(choices)}"
            )
    for fmt, values in flat.items():
        current = sections.get(fmt)
        # The new key wins when both are given.
        if current is None or isinstance(current, dict):
            sections[fmt] = {**values, **(current or {})}
    result: dict[str, FormatOptions] = {}
    for name, body in sections.items():
        options_type = BUILTIN[name].options if name in BUILTIN else UserOptions
        result[name] = options_type.from_section(body, f"render.{name}")
    return RenderSettings(result)


class LegacyOptions:
    """``options.<flat knob>`` for user templates of the previous release: each read is
    answered from the new settings and warns once, naming the new template name."""

    def __init__(self, settings: RenderSettings, warn: Warn = warn_deprecated) -> None:
        self._settings = settings
        self._warn = warn
        self._warned: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in LEGACY_KEYS:
            raise AttributeError(name)
        from tagsync.formats.registry import BUILTIN

        fmt, key = LEGACY_KEYS[name]
        if name not in self._warned:
            self._warned.add(name)
            self._warn(f"template variable options.{name} is deprecated: use render.{fmt}.{key}")
        return getattr(self._settings.of(fmt, BUILTIN[fmt].options), key)
