"""YAML configuration: typed core settings with defaults that work without any file.

Sections owned by other modules (``render``, ``alerts``, ``check``) are kept as plain mappings
here and validated by their owners, so adding a feature does not grow this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagsync.clouds import CLOUDS
from tagsync.errors import ConfigError, MissingSecretError
from tagsync.origin import ConfigValue
from tagsync.suggest import unknown_keys

__all__ = [
    "DEFAULT_TAG",
    "Config",
    "DownloadSettings",
    "check_workspace",
    "default_config_path",
    "default_output_dir",
    "default_state_dir",
    "load_config",
    "require_environment",
    "secret_from_env",
]

DEFAULT_TAG = "AzureAdvancedThreatProtection"
APP_NAME = "tagsync"
# The workspace name is the first label of its sensor host (<workspace>sensorapi.atp.azure.com),
# so it must be a DNS label itself: it reaches Squid, PAC and Markdown text only through this.
WORKSPACE_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

_CORE_KEYS = {
    "cloud",
    "profile",
    "tags",
    "regions",
    "workspace",
    "usgov_offering",
    "state_dir",
    "output_dir",
    "download",
    "guards",
}
_OWNED_SECTIONS = {"render", "alerts", "check", "formats", "history"}


@dataclass(frozen=True, slots=True)
class DownloadSettings:
    """How files are fetched: timeouts in seconds, retry policy, size cap, TLS."""

    page_url: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    max_bytes: int = 64 * 1024 * 1024
    verify: bool | str = True  # True, False (discouraged) or a CA bundle path


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration (file values over defaults; CLI options override later)."""

    cloud: str = "public"
    tags: tuple[str, ...] = (DEFAULT_TAG,)
    regions: bool = False
    # Connectivity profile (tagsync/profiles.py); tags_explicit: the file set `tags:` itself,
    # so the profile's tags do not replace them (profiles.apply_profile).
    profile: str = "mdi-v2"
    tags_explicit: bool = False
    workspace: str | None = None  # the Defender for Identity workspace name (a DNS label)
    usgov_offering: str | None = None  # gcc, gcc-high or dod: the usgov sensor host differs
    state_dir: Path | None = None
    output_dir: Path | None = None
    download: DownloadSettings = field(default_factory=DownloadSettings)
    max_removal_ratio: float = 0.5
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def section(self, name: str) -> Any:
        """A section owned by another module, or None when absent."""
        return self.sections.get(name)


def default_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.yaml"


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))


def default_output_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "out"


def secret_from_env(variable: str, what: str) -> str:
    """Read a secret from the environment variable the config names; never echo its value."""
    value = os.environ.get(variable)
    if not value:
        raise MissingSecretError(f"{what}: environment variable {variable} is not set or empty")
    return value


def require_environment(section: Any, where: str, key: str) -> None:
    """Check every variable that a ``*_env`` key of ``section`` names (a ``*_env`` mapping:
    each value) is set and not empty; one error names all the missing ones, not the first."""
    missing: dict[str, str] = {}
    for variable, place in _env_names(section, key):
        if not os.environ.get(variable):
            missing.setdefault(variable, place)
    if len(missing) == 1:
        [(variable, place)] = missing.items()
        problem = f"environment variable {variable} is not set or empty"
        raise MissingSecretError(f"{where}: {place}: {problem}")
    if missing:
        shown = ", ".join(f"{variable} ({place})" for variable, place in missing.items())
        raise MissingSecretError(f"{where}: environment variables not set or empty: {shown}")


def _env_names(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(variable, where in the section) for each environment variable a ``*_env`` key names."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _env_names(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if not (isinstance(key, str) and key.endswith("_env")):
                yield from _env_names(item, here)
            elif isinstance(item, str) and item:
                yield item, here
            elif isinstance(item, dict):
                for name, variable in item.items():
                    if isinstance(variable, str) and variable:
                        yield variable, f"{here}.{name}"


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{where} has the wrong type ({type(value).__name__})")
    return value


def _download_settings(raw: Any, where: str) -> DownloadSettings:
    if raw is None:
        return DownloadSettings()
    _expect(raw, dict, where)
    defaults = DownloadSettings()
    known: dict[str, tuple[type | tuple[type, ...], Any]] = {
        "page_url": (str, defaults.page_url),
        "connect_timeout": ((int, float), defaults.connect_timeout),
        "read_timeout": ((int, float), defaults.read_timeout),
        "retries": (int, defaults.retries),
        "backoff": ((int, float), defaults.backoff),
        "max_bytes": (int, defaults.max_bytes),
        "verify": ((bool, str), defaults.verify),
    }
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"{where}: {unknown_keys(unknown, known)}")
    values: dict[str, Any] = {}
    for key, (kind, default) in known.items():
        values[key] = _expect(raw[key], kind, f"{where}.{key}") if key in raw else default
    if values["retries"] < 0 or values["max_bytes"] <= 0:
        raise ConfigError(f"{where}: retries must be >= 0 and max_bytes > 0")
    return DownloadSettings(**values)


def check_workspace(value: Any, where: str) -> str | None:
    """A workspace name as a DNS label, lower-cased (DNS names are case-insensitive)."""
    if value is None:
        return None
    if not isinstance(value, str) or not WORKSPACE_PATTERN.fullmatch(value.lower()):
        raise ConfigError(
            f"{where}: workspace {str(value)!r:.80} is not a DNS label (1-63 characters of "
            "a-z, 0-9 and '-', not starting or ending with '-'), as in the workspace's "
            "<workspace>sensorapi.atp.azure.com host"
        )
    return value.lower()


def load_config(path: Path | None = None, *, required: bool = False) -> Config:
    """Load ``path`` (or the default location if it exists); no file gives the defaults."""
    if path is None:
        candidate = default_config_path()
        if not candidate.exists():
            return Config()
        path = candidate
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: config file not found") from None
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{at}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    unknown = set(raw) - _CORE_KEYS - _OWNED_SECTIONS
    if unknown:
        raise ConfigError(f"{path}: {unknown_keys(unknown, _CORE_KEYS | _OWNED_SECTIONS)}")
    where = str(path)
    cloud = _expect(raw.get("cloud", "public"), str, f"{where}: cloud").lower()
    if cloud not in CLOUDS:
        raise ConfigError(f"{where}: unknown cloud {cloud!r}: choose one of {', '.join(CLOUDS)}")
    from tagsync.profiles import USGOV_OFFERINGS, get_profile

    profile = get_profile(_expect(raw.get("profile", "mdi-v2"), str, f"{where}: profile"), where)
    workspace = check_workspace(raw.get("workspace"), where)
    offering = raw.get("usgov_offering")
    if offering is not None and offering not in USGOV_OFFERINGS:
        raise ConfigError(
            f"{where}: usgov_offering {str(offering)!r:.40} is not one of "
            f"{', '.join(USGOV_OFFERINGS)}"
        )
    tags_raw = raw.get("tags", [DEFAULT_TAG])
    if isinstance(tags_raw, str):
        tags_raw = [tags_raw]
    _expect(tags_raw, list, f"{where}: tags")
    if not tags_raw or not all(isinstance(t, str) and t for t in tags_raw):
        raise ConfigError(f"{where}: tags must be a non-empty list of tag names")
    guards = raw.get("guards") or {}
    _expect(guards, dict, f"{where}: guards")
    ratio = float(_expect(guards.get("max_removal_ratio", 0.5), (int, float), f"{where}: guards"))
    if not 0 <= ratio <= 1:
        raise ConfigError(f"{where}: guards.max_removal_ratio must be between 0 and 1")

    def _path(key: str) -> Path | None:
        value = raw.get(key)
        if value is None:
            return None
        return Path(os.path.expanduser(_expect(value, str, f"{where}: {key}")))

    return Config(
        cloud=cloud,
        # Each name remembers the file, so an unknown tag is blamed on `tags:` there.
        tags=tuple(ConfigValue(name, f"{where}: tags") for name in tags_raw),
        regions=bool(raw.get("regions", False)),
        profile=profile.name,
        tags_explicit="tags" in raw,
        workspace=workspace,
        usgov_offering=offering,
        state_dir=_path("state_dir"),
        output_dir=_path("output_dir"),
        download=_download_settings(raw.get("download"), f"{where}: download"),
        max_removal_ratio=ratio,
        sections={key: raw[key] for key in _OWNED_SECTIONS if key in raw},
        path=path,
    )
