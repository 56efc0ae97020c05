"""The format interface: what one output format declares, and the data it renders from.

A format is one :class:`Format` object in its own module (``tagsync/formats/<name>.py``) plus
its templates (``templates/<name>/*.j2``). The render engine (``tagsync/render.py``) does the
rest: selection and validation of the tags, the Jinja environment, the header, the empty-tag
guard and writing. See ``tagsync/formats/README.md`` for a worked example.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tagsync.errors import ConfigError
from tagsync.suggest import did_you_mean  # re-exported: formats suggest like everything else

if TYPE_CHECKING:
    from tagsync.diff import ChangeSet
    from tagsync.formats.checks import Check
    from tagsync.formats.settings import RenderSettings
    from tagsync.grace import Held
    from tagsync.model import ServiceTags

__all__ = [
    "Format",
    "FormatOptions",
    "LazyContext",
    "NoOptions",
    "Selection",
    "TagView",
    "did_you_mean",
    "setting",
]

OptionsT = TypeVar("OptionsT", bound="FormatOptions")


def setting(default: Any, check: Check) -> Any:
    """A format option: its default and the validator every value (YAML or code) must pass."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True, slots=True)
class FormatOptions:
    """Base of every format's options: a frozen dataclass whose fields are :func:`setting`\\s.

    Field names are the YAML keys of the format's ``render.<format>`` section, so one name
    is used in the config file, in templates (``options.<key>``) and in messages.
    """

    # Settings that must be given together or not at all (e.g. the MDI address groups).
    together: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def together_for(cls, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The settings to give together, given the section's values (a format whose set
        depends on another setting, such as the connectivity profile, overrides this)."""
        return cls.together

    def __post_init__(self) -> None:
        # Values set in code get the same checks as values read from YAML.
        for item in dataclasses.fields(self):
            check = item.metadata.get("check")
            value = getattr(self, item.name)
            if check is None or value is None or value == ():
                continue  # optional settings left unset
            check(value, f"render option {item.name}")

    @classmethod
    def from_section(cls: type[OptionsT], raw: object, where: str) -> OptionsT:
        """Validate one ``render.<format>`` mapping (None: all defaults)."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping")
        known = {item.name: item for item in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown key {str(key)!r:.60}{did_you_mean(str(key), known)}; "
                    f"known keys: {', '.join(known) or 'none'}"
                )
            values[key] = known[key].metadata["check"](value, f"{where}.{key}")
        together = cls.together_for(values)
        given = [name for name in together if values.get(name)]
        if given and len(given) != len(together):
            missing = [name for name in together if name not in given]
            raise ConfigError(f"{where}: missing {', '.join(missing)} (give all of them or none)")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class NoOptions(FormatOptions):
    """For formats without settings."""


@dataclass(frozen=True, slots=True)
class TagView:
    """A selected tag as templates see it: validated name, sorted distinct prefixes (all,
    IPv4 only, IPv6 only).

    With removal grace (:mod:`tagsync.grace`) the prefixes include the CIDRs the tag lost that
    are still held: ``held`` names them with when their grace ends, and ``held_before`` the
    ones held for the previous version (incremental outputs start from that allow-list).
    """

    name: str
    change_number: int
    prefixes: list[str]
    v4: list[str]
    v6: list[str]
    held: tuple[Held, ...] = ()
    held_before: tuple[str, ...] = ()

    @property
    def current(self) -> list[str]:
        """The prefixes the version itself lists (without the held ones)."""
        if not self.held:
            return self.prefixes
        held = {item.cidr for item in self.held}
        return [prefix for prefix in self.prefixes if prefix not in held]


@dataclass(frozen=True)
class Selection:
    """What every format renders from: the selected, validated tags of one version, and the
    changes from the previous version when the caller has one (for incremental outputs)."""

    service_tags: ServiceTags
    tags: list[TagView]
    v4: list[str]  # every selected prefix, distinct and numerically sorted
    v6: list[str]
    changes: ChangeSet | None = None

    # nft interval sets and some vendors refuse overlapping elements: the merged networks.
    @cached_property
    def merged_v4(self) -> list[str]:
        from tagsync.prefixes import merge_family

        return merge_family(self.v4, v6=False)

    @cached_property
    def merged_v6(self) -> list[str]:
        from tagsync.prefixes import merge_family

        return merge_family(self.v6, v6=True)


# Context values a format adds for its templates, each computed only if a template reads it.
LazyContext = Mapping[str, Callable[[], Any]]


def _no_context(selection: Selection, settings: RenderSettings) -> LazyContext:
    return {}


@dataclass(frozen=True, slots=True)
class Format:
    """One output format, declared in one place."""

    name: str  # lower case; also the config section render.<name> and the output directory
    summary: str  # one line for `tagsync formats`
    outputs: tuple[str, ...]  # output paths ("iptables/apply.sh"); template = path + ".j2"
    options: type[FormatOptions] = NoOptions
    # (selection, all formats' settings) -> lazy context values for this format's templates.
    context: Callable[[Selection, RenderSettings], LazyContext] = _no_context
    # Option keys that must be set in the config before this format can render, and why.
    needs: tuple[str, ...] = ()
    needs_reason: str = ""
    # Per connectivity profile (tagsync.profiles; the options' `profile` setting), where a
    # profile needs other keys than `needs` (sensor v3.x uses only the sensors' addresses).
    profile_needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lists_prefixes: bool = True  # False: an empty tag is no reason to refuse the format
    in_all: bool = True  # part of `render all` / check's default: needs no site settings
    # Outputs rendered only when the previous version is known (incremental commands).
    incremental_outputs: tuple[str, ...] = ()
    filters: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    builtin: bool = True

    @property
    def uses_previous(self) -> bool:
        return bool(self.incremental_outputs)

    def needs_for(self, profile: str | None) -> tuple[str, ...]:
        """The keys needed under ``profile`` (None, or one without its own list: ``needs``)."""
        if profile is not None and profile in self.profile_needs:
            return self.profile_needs[profile]
        return self.needs

    def missing_settings(self, options: FormatOptions) -> list[str]:
        """``render.<name>.<key>`` for each setting needed under the options' profile (when
        the format has one) left unset."""
        needed = self.needs_for(getattr(options, "profile", None))
        return [f"render.{self.name}.{key}" for key in needed if not getattr(options, key)]
