"""Render firewall configs from Jinja templates: one template per output file.

Templates carry the syntax; this module carries what must not be left to a template: the
selection and validation of the data, names, chunking, escaping filters (StrictUndefined, no
value reaches the text except through a per-format filter or a validated name), the header,
and the guard against rendering an empty allow-list.
"""

from __future__ import annotations

import functools
import itertools
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
    js_string,
    markdown_code,
    printable,
    ps_quote,
    sh_quote,
    xml_comment_text,
)
from tagsync.model import TAG_NAME_PATTERN, ServiceTags, Tag, resolve_tags
from tagsync.prefixes import (
    InvalidPrefix,
    all_canonical,
    canonical_prefix,
    merge_family,
    sort_prefixes,
    sorted_families,
)

if TYPE_CHECKING:
    import jinja2

    from tagsync.diff import ChangeSet

__all__ = [
    "FORMATS",
    "SITE_NEUTRAL_FORMATS",
    "MdiGroups",
    "RenderOptions",
    "format_outputs",
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
    "proxy",
)
# Not in "all": mdi-sensor needs the site's address groups, proxy the site's proxy address.
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
    "proxy": ("proxy/squid.conf", "proxy/squid-sslbump.conf", "proxy/proxy.pac"),
}
# Formats whose output does not list prefixes: an empty tag is no reason to refuse them.
_PREFIX_FREE = frozenset({"proxy"})
# A format added with --templates DIR is the directory DIR/NAME; its templates are the *.j2
# files in it ("_" marks partials for import/include, not outputs).
_FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_OUTPUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
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
    from tagsync.formats.filters import lines, netmask

    env.filters.update(
        comment=comment_text,
        xml_comment=xml_comment_text,
        ps=ps_quote,
        sh=sh_quote,
        js=js_string,
        md_code=markdown_code,
        lines=lines,
        netmask=netmask,
    )
    return env


def _variables(env: jinja2.Environment, output: str) -> frozenset[str] | None:
    """Context names ``output``'s template and everything it imports or includes may read;
    None when a template name is computed at render time (then everything is provided)."""
    import jinja2

    assert env.loader is not None
    names: set[str] = set()
    pending, seen = [f"{output}.j2"], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            source = env.loader.get_source(env, name)[0]
        except jinja2.TemplateNotFound:
            raise ConfigError(f"template {name} not found") from None
        found, references = _analyse(env, source)
        if references is None:
            return None
        names |= found
        pending.extend(references)
    return frozenset(names)


@functools.lru_cache(maxsize=256)
def _analyse(env: jinja2.Environment, source: str) -> tuple[frozenset[str], tuple[str, ...] | None]:
    import jinja2
    from jinja2 import meta

    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    references = tuple(meta.find_referenced_templates(tree))
    if any(ref is None for ref in references):
        return frozenset(), None
    return frozenset(meta.find_undeclared_variables(tree)), references  # type: ignore[return-value]


# --- Selection -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TagView:
    """A selected tag as templates see it: validated name, sorted distinct prefixes (all,
    IPv4 only, IPv6 only)."""

    name: str
    change_number: int
    prefixes: list[str]
    v4: list[str]
    v6: list[str]


def _checked_prefixes(tag: Tag) -> tuple[list[str], list[str]]:
    """Re-validate every prefix (Tag objects may not come from parse_service_tags) and sort."""
    if all_canonical(tag.prefixes):  # one batch pass; the loop below names an offender
        return sorted_families(tag.prefixes)
    try:
        for prefix in tag.prefixes:
            if not isinstance(prefix, str) or canonical_prefix(prefix) != prefix:
                raise InvalidPrefix(f"{prefix!r:.60} is not a canonical CIDR prefix")
    except InvalidPrefix as exc:
        raise DataError(f"tag {tag.name}: {exc}") from None
    raise DataError(f"tag {tag.name}: invalid prefixes")  # unreachable: the batch check agrees


def _tag_view(tag: Tag) -> TagView:
    if not isinstance(tag.name, str) or not TAG_NAME_PATTERN.fullmatch(tag.name):
        raise DataError(f"tag name {tag.name!r:.80} is not 1-200 characters of [A-Za-z0-9._-]")
    if isinstance(tag.change_number, bool) or not isinstance(tag.change_number, int):
        raise DataError(f"tag {tag.name}: changeNumber {tag.change_number!r:.40} is not a number")
    v4, v6 = _checked_prefixes(tag)
    return TagView(tag.name, tag.change_number, v4 + v6, v4, v6)


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
def format_outputs(
    formats: Sequence[str], templates_dir: Path | None = None
) -> dict[str, tuple[str, ...]]:
    """Output files (relative paths) per requested format, built-in or added as a template
    directory under ``templates_dir``; an unknown format is a ConfigError."""
    result: dict[str, tuple[str, ...]] = {}
    for fmt in dict.fromkeys(formats):
        if fmt in _OUTPUTS:
            result[fmt] = _OUTPUTS[fmt]
            continue
        directory = templates_dir / fmt if templates_dir is not None else None
        if directory is None or not _FORMAT_NAME.fullmatch(fmt) or not directory.is_dir():
            shown = fmt if _FORMAT_NAME.fullmatch(fmt) else repr(fmt)[:40]
            raise ConfigError(
                f"unknown format {shown}: choose from {', '.join(FORMATS)}, or add one as "
                f"templates in {directory if directory else '--templates DIR/NAME'}/*.j2"
            )
        names = sorted(
            p.name.removesuffix(".j2")
            for p in directory.iterdir()
            if p.name.endswith(".j2") and not p.name.startswith(("_", ".")) and p.is_file()
        )
        if not names:
            raise ConfigError(f"{directory}: no templates (*.j2) for format {fmt}")
        bad = [n for n in names if not _OUTPUT_NAME.fullmatch(n)]
        if bad:
            raise ConfigError(f"{directory}: template name {bad[0]!r:.60}.j2 is not a plain name")
        result[fmt] = tuple(f"{fmt}/{name}" for name in names)
    return result


def _select(
    service_tags: ServiceTags,
    tag_names: Sequence[str],
    regions: bool,
    allow_empty: bool,
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


def _families(views: Sequence[TagView]) -> tuple[list[str], list[str]]:
    if len(views) == 1:
        return views[0].v4, views[0].v6  # already sorted and distinct
    return sorted_families(itertools.chain.from_iterable(v.prefixes for v in views))


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
    PAN-OS commands are rendered too. Each value a template may read is computed once, and
    only when some requested template reads it.
    """
    user_dir = templates_dir.resolve() if templates_dir else None
    outputs = format_outputs(formats, user_dir)
    options = options or RenderOptions()
    prefix_free = all(fmt in _PREFIX_FREE for fmt in outputs)
    views = _select(service_tags, tag_names, regions, allow_empty or prefix_free)
    v4, v6 = _families(views)
    context: dict[str, Any] = {
        "header": _header(service_tags, views),
        "options": options,
        "tags": views,
        "v4": v4,
        "v6": v6,
        "cloud": service_tags.cloud,
        "change_number": service_tags.change_number,
    }
    lazy: dict[str, Callable[[], Any]] = {
        "ipsets": lambda: [
            _ipset(options.ipset_v4, "inet", v4),
            _ipset(options.ipset_v6, "inet6", v6),
        ],
        # nft interval sets refuse overlapping elements: give them the merged networks.
        "merged_v4": lambda: merge_family(v4, v6=False),
        "merged_v6": lambda: merge_family(v6, v6=True),
        "panos": lambda: _panos(views, options),
        "windows_rules": lambda: _windows_rules(
            views, options.windows_group, options.windows_chunk
        ),
        "mdi": lambda: _mdi(options),
        "mdi_windows": lambda: _windows_rules(
            views, options.mdi_windows_group, options.windows_chunk
        ),
        "proxy": lambda: _proxy(options),
    }
    env = _environment(user_dir)

    def render(output: str) -> str:
        wanted = _variables(env, output)
        for key in lazy if wanted is None else wanted & lazy.keys():
            if key not in context:
                context[key] = lazy[key]()
        return _render(env, output, context)

    files = {output: render(output) for names in outputs.values() for output in names}
    if changes is not None and "paloalto" in outputs:
        context.update(plan=_panos_plan(views, changes, options), changes=changes)
        files[INCREMENTAL_OUTPUT] = render(INCREMENTAL_OUTPUT)
    return files


def _mdi(options: RenderOptions) -> dict[str, Any]:
    from tagsync.formats.mdi import mdi_context

    return mdi_context(
        options.mdi_groups,
        options.panos_prefix,
        options.panos_group_limit,
        options.mdi_windows_group,
        options.windows_chunk,
    )


def _proxy(options: RenderOptions) -> Any:
    from tagsync.formats.proxy import proxy_view

    return proxy_view(options)


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
