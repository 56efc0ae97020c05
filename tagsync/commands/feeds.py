"""The `tagsync feeds` command: a static feed tree for firewalls that poll a list over HTTP(S)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    DownloadFlag,
    FileOption,
    PageUrlOption,
    RegionsFlag,
    StateDirOption,
    TagOption,
    UrlOption,
    handle_errors,
    note,
    open_session,
)
from tagsync.words import counted

if TYPE_CHECKING:
    from tagsync.commands.common import Session
    from tagsync.model import ServiceTags

FeedsOutOption = Annotated[
    Path,
    typer.Option(
        "--out", "-o", help="Directory to publish in: OUT/<cloud> becomes the tree (serve OUT)"
    ),
]
AllTagsFlag = Annotated[
    bool,
    typer.Option("--all-tags", help="Every tag of the cloud, regional ones included"),
]


@dataclass(frozen=True, slots=True)
class _Source:
    """The version to publish, known by its sha256 before it is parsed: an unchanged re-render
    stops before the parse."""

    sha256: str
    name: str  # file path or URL, for the publication date
    parse: Callable[[], ServiceTags]


def _source(session: Session, url: str | None, file: Path | None, snapshot: bool) -> _Source:
    """Like Session.load (--file, --url, the snapshot or a download), with the parse deferred."""
    import hashlib

    from tagsync.errors import DataError
    from tagsync.fetch import fetch_service_tags

    if url is not None and file is not None:
        raise typer.BadParameter("give either --url or --file, not both")
    if snapshot:
        store = session.store()
        meta = store.meta()
        if meta is not None:

            def accepted() -> ServiceTags:
                loaded = store.load_accepted(check_all_prefixes=False)
                if loaded is None:
                    raise DataError(f"{store.meta_path}: the accepted snapshot disappeared")
                return loaded.service_tags

            return _Source(meta.sha256, meta.source, accepted)
    fetched = fetch_service_tags(session.cloud, session.config.download, url=url, file=file)

    def parse() -> ServiceTags:
        from tagsync.model import parse_service_tags

        # Prefixes are checked when the tags are read: all in one batch for --all-tags.
        return parse_service_tags(
            fetched.data,
            source=fetched.source,
            expected_cloud=session.cloud.file_cloud,
            check_all_prefixes=False,
        )

    return _Source(hashlib.sha256(fetched.data).hexdigest(), fetched.source, parse)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The tree is ~100,000 new objects (lists, bytes, index entries), none in a reference
    cycle: the cyclic GC would only rescan them over and over (as in model.parse_service_tags)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@handle_errors
def feeds(
    out: FeedsOutOption,
    all_tags: AllTagsFlag = False,
    tag: TagOption = None,
    regions: RegionsFlag = False,
    cloud: CloudOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    download: DownloadFlag = False,
    page_url: PageUrlOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Write feeds for firewalls that poll a URL: CIDR lists, checksums, Check Point JSON."""
    from tagsync import __version__
    from tagsync.feeds_key import history_fingerprint, input_key, publication_of_source
    from tagsync.feeds_tree import FeedTree

    session = open_session(config, cloud, state_dir, page_url)
    source = _source(session, url, file, snapshot=not (download or url or file))
    names = list(tag or session.config.tags)
    use_regions = regions or session.config.regions
    store = session.store()
    meta = store.meta()
    published = publication_of_source(source.name, meta, source.sha256)
    # Everything the tree depends on, known before the parse: the file's bytes decide which
    # tags the requested names resolve to; the history (and the snapshot record) which
    # version last changed each tag and when it was published.
    key = input_key(
        {
            "tagsync": __version__,
            "source_sha256": source.sha256,
            "cloud": session.cloud.name,
            "all_tags": all_tags,
            "names": names,
            "regions": use_regions,
            "published": [published.date.isoformat(), published.basis] if published else None,
            "history": history_fingerprint(store.root),
        }
    )
    tree = FeedTree(out, session.cloud.name)
    with tree.locked(), _gc_paused():
        if tree.previous_key() == key:
            note(f"feeds unchanged in {tree.link}")
            return
        # Only now the modules that build a tree: an unchanged re-render never loads them.
        from tagsync.feeds import build_files, check_tag_names, feed_lists
        from tagsync.feeds_history import kept_history
        from tagsync.feeds_html import render_page
        from tagsync.tagnames import resolve_tags

        service_tags = source.parse()
        watched = [t.name for t in resolve_tags(service_tags, names, regions=use_regions)]
        selected = list(service_tags.tags) if all_tags else watched
        check_tag_names(selected, service_tags.source or session.cloud.name)
        if all_tags:
            service_tags.validate()  # one batch for the whole file
        lists = feed_lists(
            [service_tags.tags[name] for name in selected],
            service_tags.distinct_prefixes if all_tags else None,
        )
        kept = kept_history(store, service_tags, published)
        built = build_files(
            service_tags,
            session.cloud.name,
            lists,
            published=kept.published,
            last_changes=kept.last_changes(selected),
            key=key,
        )
        trends = kept.trends({feed.name: feed for feed in lists}, watched)
        files = built.files
        files["index.json"] = built.index_json
        files["index.html"] = render_page(built.index, trends)
        result = tree.publish(files, built.digests, tree.previous_digests())
    where = f"changeNumber {service_tags.change_number} in {tree.link}"
    if result.generation is None:
        note(f"feeds unchanged for {where}")
        return
    removed = f", {counted(len(result.removed_tags), 'tag')} removed" if result.removed_tags else ""
    note(
        f"feeds for {where}: {counted(len(selected), 'tag')}, "
        f"{counted(result.written, 'file')} written, "
        f"{result.linked} unchanged{removed}"
    )
