"""Render firewall configs from Jinja templates: one template per output file.

Templates carry the syntax; this module carries what must not be left to a template: the
selection and validation of the data, names, chunking, escaping filters (StrictUndefined, no
value reaches the text except through a per-format filter or a validated name), the header,
and the guard against rendering an empty allow-list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import tagsync
from tagsync.errors import ConfigError, DataError, GuardError
from tagsync.formats.options import MdiGroups, RenderOptions, render_options
from tagsync.formats.quoting import (
    comment_text,
    markdown_code,
    printable,
    ps_quote,
    sh_quote,
    xml_comment_text,
)
from tagsync.model import TAG_NAME_PATTERN, ServiceTags, Tag, resolve_tags
from tagsync.prefixes import InvalidPrefix, aggregate, canonical_prefix, sort_prefixes

if TYPE_CHECKING:
    import jinja2

    from tagsync.diff import ChangeSet

__all__ = [
    "FORMATS",
    "SITE_NEUTRAL_FORMATS",
    "MdiGroups",
    "RenderOptions",
    "packaged_templates_dir",
    "render_formats",
    "render_options",
    "write_rendered",
]

FORMATS: tuple[str, ...] = (
    "iptables",
    "nftables",
    "paloalto",
    "windows",
    "expressroute",
    "mdi-sensor",
)
SITE_NEUTRAL_FORMATS: tuple[str, ...] = (
    "iptables",
    "nftables",
    "paloalto",
    "windows",
    "expressroute",
)

# Output file -> template, per format. The incremental PAN-OS file is added only with a diff.
_OUTPUTS: dict[str, tuple[str, ...]] = {
    "iptables": (
        "iptables/ipset.restore",
        "iptables/iptables.rules",
        "iptables/ip6tables.rules",
        "iptables/apply.sh",
    ),
    "nftables": ("nftables/tagsync.nft",),
    "paloalto": ("paloalto/set-commands.txt", "paloalto/config.xml", "paloalto/edl.txt"),
    "windows": ("windows/rules.ps1",),
    "expressroute": ("expressroute/notes.md",),
    "mdi-sensor": (
        "mdi-sensor/ipset.restore",
        "mdi-sensor/iptables.rules",
        "mdi-sensor/ip6tables.rules",
        "mdi-sensor/nftables.nft",
        "mdi-sensor/paloalto-set-commands.txt",
        "mdi-sensor/windows-rules.ps1",
        "mdi-sensor/ports.md",
    ),
}
INCREMENTAL_OUTPUT = "paloalto/incremental-set-commands.txt"
_CLOUD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


# --- Templates -----------------------------------------------------------------------------
def packaged_templates_dir() -> Path:
    """The shipped templates: inside the package (wheel) or at the repo top level (editable)."""
    package = Path(tagsync.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"{package}: the packaged templates directory is missing")


@functools.lru_cache(maxsize=8)
def _environment(user_dir: Path | None) -> jinja2.Environment:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        if not user_dir.is_dir():
            raise ConfigError(f"{user_dir}: templates directory not found")
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(packaged_templates_dir())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        # XML templates escape every value; the other formats use explicit quoting filters
        # because HTML escaping means nothing (or harm) in shell, PowerShell or PAN-OS text.
        autoescape=jinja2.select_autoescape(enabled_extensions=("xml.j2",), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        comment=comment_text,
        xml_comment=xml_comment_text,
        ps=ps_quote,
        sh=sh_quote,
        md_code=markdown_code,
    )
    return env


# --- Selection -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TagView:
    """A selected tag as templates see it: validated name, sorted distinct prefixes."""

    name: str
    change_number: int
    prefixes: list[str]

    @property
    def v4(self) -> list[str]:
        return [p for p in self.prefixes if ":" not in p]

    @property
    def v6(self) -> list[str]:
        return [p for p in self.prefixes if ":" in p]


def _checked_prefixes(tag: Tag) -> list[str]:
    """Re-validate every prefix: Tag objects may not come from parse_service_tags."""
    try:
        for prefix in tag.prefixes:
            if not isinstance(prefix, str) or canonical_prefix(prefix) != prefix:
                raise InvalidPrefix(f"{prefix!r:.60} is not a canonical CIDR prefix")
    except InvalidPrefix as exc:
        raise DataError(f"tag {tag.name}: {exc}") from None
    return sort_prefixes(tag.prefixes)


def _tag_view(tag: Tag) -> TagView:
    if not isinstance(tag.name, str) or not TAG_NAME_PATTERN.fullmatch(tag.name):
        raise DataError(f"tag name {tag.name!r:.80} is not 1-200 characters of [A-Za-z0-9._-]")
    if isinstance(tag.change_number, bool) or not isinstance(tag.change_number, int):
        raise DataError(f"tag {tag.name}: changeNumber {tag.change_number!r:.40} is not a number")
    return TagView(tag.name, tag.change_number, _checked_prefixes(tag))


def _header(service_tags: ServiceTags, views: Sequence[TagView]) -> list[str]:
    cloud = service_tags.cloud
    if not isinstance(cloud, str) or not _CLOUD_NAME.fullmatch(cloud):
        raise DataError(f"cloud name {cloud!r:.60} is not a plain name")
    if not isinstance(service_tags.sha256, str) or not _SHA256.fullmatch(service_tags.sha256):
        raise DataError("the source sha256 is not a hex digest")
    number = service_tags.change_number
    if isinstance(number, bool) or not isinstance(number, int):
        raise DataError(f"changeNumber {number!r:.40} is not a number")
    lines = [
        f"Generated by tagsync {printable(tagsync.__version__, 'version')}: "
        "do not edit, render again instead.",
        f"cloud: {cloud}",
        *(f"tag: {v.name} (changeNumber {v.change_number})" for v in views),
        f"changeNumber: {number}",
        f"source sha256: {service_tags.sha256}",
    ]
    return lines


# --- Per-format data -----------------------------------------------------------------------
def _next_power_of_two(value: int) -> int:
    return 1 << max(value - 1, 1).bit_length()


def ipset_sizing(count: int) -> tuple[int, int]:
    """(hashsize, maxelem) for a hash:net set of ``count`` entries.

    maxelem keeps 2x headroom and moves in big power-of-two steps, because ``create -exist``
    refuses an existing set whose maxelem differs; hashsize (a power of two) may differ freely.
    """
    maxelem = max(65536, _next_power_of_two(2 * count))
    hashsize = max(1024, _next_power_of_two(max(count // 4, 1)))
    return hashsize, maxelem


def _ipset(name: str, family: str, prefixes: list[str]) -> dict[str, Any]:
    hashsize, maxelem = ipset_sizing(len(prefixes))
    return {
        "name": name,
        "tmp": f"{name}-tmp",
        "family": family,
        "hashsize": hashsize,
        "maxelem": maxelem,
        "prefixes": prefixes,
    }


def _windows_rules(views: Sequence[TagView], group: str, chunk: int) -> list[dict[str, Any]]:
    rules = []
    for view in views:
        parts = [view.prefixes[i : i + chunk] for i in range(0, len(view.prefixes), chunk)]
        for index, part in enumerate(parts, start=1):
            rules.append(
                {
                    "name": f"{group}-{view.name}-{index:03d}",
                    "display": f"{group}: {view.name} HTTPS ({index} of {len(parts)})",
                    "addresses": part,
                }
            )
    return rules


def _panos(views: Sequence[TagView], options: RenderOptions) -> Any:
    from tagsync.formats.paloalto import layout

    return layout(
        [(v.name, v.prefixes) for v in views], options.panos_prefix, options.panos_group_limit
    )


def _panos_plan(views: Sequence[TagView], changes: ChangeSet, options: RenderOptions) -> Any:
    from tagsync.formats.paloalto import layout, plan

    old_pairs = []
    for view in views:
        change = changes.tags.get(view.name)
        if change is None:
            old_pairs.append((view.name, view.prefixes))
            continue
        old = (set(view.prefixes) - set(change.added)) | set(change.removed)
        old_pairs.append((view.name, sort_prefixes(old)))
    old_layout = layout(old_pairs, options.panos_prefix, options.panos_group_limit)
    return plan(old_layout, _panos(views, options))


# --- Public API ----------------------------------------------------------------------------
def _select(
    service_tags: ServiceTags, tag_names: Sequence[str], regions: bool, allow_empty: bool
) -> list[TagView]:
    if not tag_names:
        raise ConfigError("no tags selected to render")
    views = [_tag_view(tag) for tag in resolve_tags(service_tags, tag_names, regions=regions)]
    empty = [v.name for v in views if not v.prefixes]
    if empty and not allow_empty:
        raise GuardError(
            f"{service_tags.source or service_tags.cloud}: tag {', '.join(empty)} has no "
            "prefixes; refusing to render an empty allow-list (use --allow-empty to override)"
        )
    return views


def render_formats(
    service_tags: ServiceTags,
    tag_names: Sequence[str],
    formats: Sequence[str],
    *,
    options: RenderOptions | None = None,
    changes: ChangeSet | None = None,
    templates_dir: Path | None = None,
    allow_empty: bool = False,
    regions: bool = False,
) -> dict[str, str]:
    """Render ``formats`` for the tags; returns relative output path -> file text.

    With ``changes`` (the diff from the previous version) and ``paloalto``, the incremental
    PAN-OS commands are rendered too.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    options = options or RenderOptions()
    views = _select(service_tags, tag_names, regions, allow_empty)
    v4 = sort_prefixes(p for v in views for p in v.v4)
    v6 = sort_prefixes(p for v in views for p in v.v6)
    base: dict[str, Any] = {
        "header": _header(service_tags, views),
        "options": options,
        "tags": views,
        "v4": v4,
        "v6": v6,
        "cloud": service_tags.cloud,
        "change_number": service_tags.change_number,
    }
    # Computed once, and only when a requested format needs them.
    lazy: dict[str, Callable[[], Any]] = {
        "ipsets": lambda: [
            _ipset(options.ipset_v4, "inet", v4),
            _ipset(options.ipset_v6, "inet6", v6),
        ],
        # nft interval sets refuse overlapping elements: give them the merged networks.
        "merged_v4": lambda: aggregate(v4) if v4 else [],
        "merged_v6": lambda: aggregate(v6) if v6 else [],
        "panos": lambda: _panos(views, options),
        "windows_rules": lambda: _windows_rules(
            views, options.windows_group, options.windows_chunk
        ),
    }
    needs = {
        "iptables": ("ipsets",),
        "nftables": ("merged_v4", "merged_v6"),
        "paloalto": ("panos",),
        "windows": ("windows_rules",),
        "expressroute": (),
        "mdi-sensor": ("ipsets", "merged_v4", "merged_v6", "panos", "mdi", "mdi_windows"),
    }
    if "mdi-sensor" in formats:
        from tagsync.formats.mdi import mdi_context

        mdi = mdi_context(
            options.mdi_groups,
            options.panos_prefix,
            options.panos_group_limit,
            options.mdi_windows_group,
            options.windows_chunk,
        )
        lazy["mdi"] = lambda: mdi
        lazy["mdi_windows"] = lambda: _windows_rules(
            views, options.mdi_windows_group, options.windows_chunk
        )
    env = _environment(templates_dir.resolve() if templates_dir else None)
    files: dict[str, str] = {}
    for fmt in dict.fromkeys(formats):
        for key in needs[fmt]:
            if key not in base:
                base[key] = lazy[key]()
        for output in _OUTPUTS[fmt]:
            files[output] = _render(env, output, base)
    if changes is not None and "paloalto" in formats:
        context = dict(base, plan=_panos_plan(views, changes, options), changes=changes)
        files[INCREMENTAL_OUTPUT] = _render(env, INCREMENTAL_OUTPUT, context)
    return files


def _render(env: jinja2.Environment, output: str, context: Mapping[str, Any]) -> str:
    import jinja2

    try:
        return env.get_template(f"{output}.j2").render(context)
    except jinja2.TemplateNotFound:
        raise ConfigError(f"template {output}.j2 not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {output}.j2: {exc.message}") from None


def write_rendered(files: Mapping[str, str], out_dir: Path) -> None:
    """Write each file atomically under ``out_dir`` (shell scripts executable)."""
    from tagsync.atomic import atomic_write_text

    for relative, text in sorted(files.items()):
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise DataError(f"refusing to write outside the output directory: {relative!r}")
        target = out_dir.joinpath(*parts)
        mode = 0o755 if relative.endswith(".sh") else 0o644
        try:
            atomic_write_text(target, text, mode=mode)
        except OSError as exc:
            raise DataError(f"{target}: cannot write ({exc.strerror})") from None
