"""The render engine: firewall configs from Jinja templates, one template per output file.

Formats live in the registry (``tagsync/formats/``): each declares its outputs, options and
template values. This module carries what must not be left to a template or repeated per
format: the selection and validation of the data, the Jinja environment (StrictUndefined; no
value reaches the text except through a per-format quoting filter or a validated name), the
header, the guard against rendering an empty allow-list, and writing the files.

Removal grace (:mod:`tagsync.grace`) reaches every format here: the CIDRs a tag lost that are
still held join its prefixes, and the header of every file names each with when its grace ends
(formats may mark them further: the EDL does on the entry itself, from ``held``).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import tagsync
from tagsync.errors import ConfigError, DataError, GuardError
from tagsync.formats.base import Format, Selection, TagView
from tagsync.formats.quoting import (
    comment_text,
    js_string,
    markdown_code,
    printable,
    ps_quote,
    sh_quote,
    xml_comment_text,
)
from tagsync.formats.registry import BUILTIN, resolve_formats
from tagsync.formats.settings import LegacyOptions, RenderSettings, render_settings
from tagsync.model import TAG_NAME_PATTERN, ServiceTags, Tag
from tagsync.prefixes import InvalidPrefix, all_canonical, canonical_prefix, sorted_families
from tagsync.tagnames import resolve_tags

if TYPE_CHECKING:
    import jinja2

    from tagsync.diff import ChangeSet
    from tagsync.grace import Holds

__all__ = [
    "RenderSettings",
    "packaged_templates_dir",
    "render_formats",
    "render_settings",
    "write_rendered",
]

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
    for fmt in BUILTIN.values():
        env.filters.update(fmt.filters)
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


def _tag_view(tag: Tag, holds: Holds | None) -> TagView:
    if not isinstance(tag.name, str) or not TAG_NAME_PATTERN.fullmatch(tag.name):
        raise DataError(f"tag name {tag.name!r:.80} is not 1-200 characters of [A-Za-z0-9._-]")
    if isinstance(tag.change_number, bool) or not isinstance(tag.change_number, int):
        raise DataError(f"tag {tag.name}: changeNumber {tag.change_number!r:.40} is not a number")
    v4, v6 = _checked_prefixes(tag)
    if holds is None:
        return TagView(tag.name, tag.change_number, v4 + v6, v4, v6)
    held = holds.held(tag.name)
    if held:
        # Held CIDRs lie outside what the tag covers now (grace subtracts it), so they only add.
        v4, v6 = sorted_families([*v4, *v6, *(item.cidr for item in held)])
    before = holds.before.get(tag.name, ())
    return TagView(tag.name, tag.change_number, v4 + v6, v4, v6, held, before)


def _held_lines(views: Sequence[TagView], holds: Holds | None) -> list[str]:
    """Header lines naming every held CIDR and when its grace ends."""
    if holds is None or not any(view.held for view in views):
        return []
    lines = [
        f"removal grace ({holds.grace.text}): these CIDRs left their tag but stay allowed "
        "until their grace ends"
    ]
    for view in views:
        lines += [f"{item.cidr} ({view.name}): {item.note}" for item in view.held]
    return lines


def _held_notes(views: Sequence[TagView]) -> dict[str, str]:
    """{held CIDR: its marker} for formats that mark entries, leaving out a CIDR another
    selected tag lists itself (it is allowed on its own account there)."""
    listed = {prefix for view in views for prefix in view.current}
    notes: dict[str, str] = {}
    for view in views:
        for item in view.held:
            if item.cidr not in listed:
                notes[item.cidr] = max(notes.get(item.cidr, ""), item.note)
    return notes


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


# --- Public API ----------------------------------------------------------------------------
def _select(
    service_tags: ServiceTags,
    tag_names: Sequence[str],
    regions: bool,
    allow_empty: bool,
    holds: Holds | None = None,
) -> list[TagView]:
    if not tag_names:
        raise ConfigError("no tags selected to render")
    selected = resolve_tags(service_tags, tag_names, regions=regions)
    views = [_tag_view(tag, holds) for tag in selected]
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


def _check_needs(formats: Sequence[Format], settings: RenderSettings) -> None:
    for fmt in formats:
        options = settings.of(fmt.name, fmt.options)
        missing = fmt.missing_settings(options)
        if missing:
            reason = f": {fmt.needs_reason}" if fmt.needs_reason else ""
            profile = getattr(options, "profile", None)
            if fmt.profile_needs and profile in fmt.profile_needs:
                reason += f" (profile {profile})"  # what is needed depends on it
            raise ConfigError(
                f"the {fmt.name} format needs {', '.join(missing)} in the config file{reason}"
            )


def render_formats(
    service_tags: ServiceTags,
    tag_names: Sequence[str],
    formats: Sequence[str],
    *,
    settings: RenderSettings | None = None,
    changes: ChangeSet | None = None,
    templates_dir: Path | None = None,
    allow_empty: bool = False,
    regions: bool = False,
    holds: Holds | None = None,
) -> dict[str, str]:
    """Render ``formats`` for the tags; returns relative output path -> file text.

    With ``changes`` (the diff from the previous version), formats with incremental outputs
    (PAN-OS) render those too. With ``holds`` (removal grace), the CIDRs the tags lost that are
    still held are allowed too, and marked. Each value a template may read is computed once,
    and only when some requested template reads it.
    """
    user_dir = templates_dir.resolve() if templates_dir else None
    chosen = resolve_formats(formats, user_dir)
    settings = settings or RenderSettings()
    _check_needs(chosen, settings)
    prefix_free = all(not fmt.lists_prefixes for fmt in chosen)
    views = _select(service_tags, tag_names, regions, allow_empty or prefix_free, holds)
    v4, v6 = _families(views)
    selection = Selection(service_tags, views, v4, v6, changes)
    namespace = {name: settings.of(name, fmt.options) for name, fmt in BUILTIN.items()}
    namespace.update(settings.by_format)
    shared: dict[str, Any] = {
        "header": _header(service_tags, views) + _held_lines(views, holds),
        "held": _held_notes(views),
        "tags": views,
        "v4": v4,
        "v6": v6,
        "cloud": service_tags.cloud,
        "change_number": service_tags.change_number,
        "render": namespace,
    }
    env = _environment(user_dir)
    files: dict[str, str] = {}
    incremental: dict[str, str] = {}
    for fmt in chosen:
        own = settings.of(fmt.name, fmt.options)
        context = {**shared, "options": own if fmt.builtin else LegacyOptions(settings)}
        lazy: dict[str, Callable[[], Any]] = {
            "merged_v4": lambda: selection.merged_v4,
            "merged_v6": lambda: selection.merged_v6,
            **fmt.context(selection, settings),
        }
        for output in fmt.outputs:
            files[output] = _render_output(env, output, context, lazy)
        if changes is not None:
            for output in fmt.incremental_outputs:
                incremental[output] = _render_output(env, output, context, lazy)
    return {**files, **incremental}


def _render_output(
    env: jinja2.Environment,
    output: str,
    context: dict[str, Any],
    lazy: Mapping[str, Callable[[], Any]],
) -> str:
    wanted = _variables(env, output)
    for key in lazy if wanted is None else wanted & lazy.keys():
        if key not in context:
            context[key] = lazy[key]()
    return _render(env, output, context)


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
