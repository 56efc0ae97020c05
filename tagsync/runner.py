"""The unattended run behind ``tagsync check``: load, diff, render, alert, then accept.

The order is what makes a run safe to repeat from cron:

1. everything happens under the state lock, so two runs never alert twice for one change;
2. configs are rendered into a temporary directory, staged beside their targets and renamed
   into place only once all of them were written, so a failed render or a full disk leaves the
   previous configs untouched;
3. the snapshot is advanced last, and only when every alert channel delivered: a failed alert
   leaves the old snapshot, so the next run sees the same change and alerts again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagsync.alerts import load_channels, send_alerts
from tagsync.atomic import atomic_write_bytes
from tagsync.clouds import Cloud
from tagsync.config import Config, default_output_dir
from tagsync.diff import ChangeSet
from tagsync.errors import (
    EXIT_CHANGED,
    EXIT_OK,
    AlertError,
    ConfigError,
    GuardError,
    LocalError,
)
from tagsync.history import keep_setting
from tagsync.logs import NOTICE, REPORT_FIELD, get_logger
from tagsync.publish import publish
from tagsync.report import to_text
from tagsync.report_markdown import fit_markdown
from tagsync.status import records_check_result
from tagsync.store import DEFAULT_LOCK_TIMEOUT, Loaded, Store
from tagsync.sync import accept, compare_with_snapshot, load_version
from tagsync.words import counted

if TYPE_CHECKING:
    from tagsync.grace import Holds
    from tagsync.model import ServiceTags

__all__ = ["CheckRequest", "CheckResult", "check_formats", "publish", "run_check"]

# GitHub refuses pull request bodies over 65536 characters; keep a margin.
REPORT_MAX_CHARS = 60_000


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """The per-run choices (command-line options) on top of the config."""

    url: str | None = None
    file: Path | None = None
    out_dir: Path | None = None
    tags: tuple[str, ...] = ()  # empty: the config's watched tags
    regions: bool = False
    force: bool = False
    allow_rollback: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    report: Path | None = None  # where to write the Markdown report when something changed
    # Alert (and exit 1) on prefix-text changes too, not only when addresses were gained or
    # lost: a re-aggregation changes no address, so by default it only re-renders.
    text_changes: bool = False
    # After a successful run, write the accepted version cut down to the watched tags here.
    save_watched: Path | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    exit_code: int
    changes: ChangeSet
    out_dir: Path
    files: tuple[str, ...]  # rendered files, relative to out_dir
    accepted: bool  # the snapshot was advanced by this run


def check_formats(config: Config) -> tuple[str, ...]:
    """Formats to render: ``check.formats``, else the top-level ``formats``, else the formats
    that need no site-specific input. ``all`` stands for those."""
    from tagsync.formats.base import did_you_mean
    from tagsync.formats.registry import ALL, BUILTIN, site_neutral

    where = str(config.path or "config")
    section = config.section("check")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{where}: check must be a mapping")
    unknown = set(section or {}) - {"formats"}
    if unknown:
        raise ConfigError(f"{where}: check: unknown keys {', '.join(sorted(map(str, unknown)))}")
    raw: Any = (section or {}).get("formats")
    key = "check.formats"
    if raw is None and config.section("formats") is not None:
        raw, key = config.section("formats"), "formats"
    if raw is None:
        return site_neutral()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise ConfigError(f"{where}: {key} must be a non-empty list of format names")
    if ALL in raw:
        # As in `tagsync render all`: every format that needs no site-specific settings.
        raw = [*site_neutral(), *(name for name in raw if name != ALL)]
    bad = [name for name in raw if name not in BUILTIN]
    if bad:
        raise ConfigError(
            f"{where}: {key}: unknown format {bad[0]!r}{did_you_mean(bad[0], BUILTIN)}; "
            f"choose from {', '.join(BUILTIN)}"
        )
    return tuple(dict.fromkeys(raw))


def _render(
    loaded: Loaded,
    names: Sequence[str],
    changes: ChangeSet,
    config: Config,
    formats: Sequence[str],
    allow_empty: bool,
    holds: Holds | None,
) -> dict[str, str]:
    from tagsync.render import render_formats, render_settings

    present = [name for name in names if name in loaded.service_tags.tags]
    return render_formats(
        loaded.service_tags,
        present,
        formats,
        settings=render_settings(config.section("render")),
        # Without a change there are no incremental commands: publish removes the last ones.
        changes=changes if changes.changed else None,
        allow_empty=allow_empty,
        holds=holds,
    )


def _announce(changes: ChangeSet, log: logging.Logger, limit: int) -> None:
    """The change report: stdout in text format (cut like the alerts: cron mails it), one
    JSON object with the whole diff on stderr in JSON format."""
    gained, lost = changes.gained_addresses, changes.lost_addresses
    deploy_by = changes.deploy_by
    log.log(
        NOTICE,
        to_text(changes, limit=limit).rstrip("\n"),
        extra={
            REPORT_FIELD: True,
            "event": "changed",
            "cloud": changes.cloud,
            "old_change_number": changes.old_change_number,
            "new_change_number": changes.new_change_number,
            # Addresses first: a re-aggregation changes texts, not what a firewall allows.
            "gained_addresses": gained.to_dict(),
            "lost_addresses": lost.to_dict(),
            "gained_cidrs": changes.gained_count,
            "lost_cidrs": changes.lost_count,
            "deploy_by": None if deploy_by is None else deploy_by.isoformat(),
            "flaps": len(changes.flaps),
            "added": changes.added_count,
            "removed": changes.removed_count,
            "diff": changes.to_dict(),
        },
    )


def _preflight(store: Store, out_dir: Path, *files: Path | None) -> None:
    from tagsync.preflight import writable_dir, writable_file

    if store.root.parent.exists() and not store.root.parent.is_dir():
        raise LocalError(f"{store.root.parent}: the state directory is not a directory")
    writable_dir(store.root, "state directory")
    writable_dir(out_dir, "output directory")
    for path in files:
        if path is not None:
            writable_file(path, "output file")


def _check_vanished(names: Sequence[str], new: ServiceTags, log: logging.Logger) -> None:
    """Watched tags missing from the new version (accepted with --force): name them; with
    none left there is nothing to render, which is a data problem, not a usage error."""
    gone = [name for name in names if name not in new.tags]
    if not gone:
        return
    if len(gone) == len(names):
        raise GuardError(
            f"{new.source}: none of the watched tags is in the new version "
            f"({', '.join(gone)}); nothing to render: check tags: in the config"
        )
    log.warning(
        "watched tag(s) not in the new version, left out of the configs: %s",
        ", ".join(gone),
        extra={"event": "vanished", "tags": gone},
    )


def _save_watched(path: Path, loaded: Loaded, names: Sequence[str], log: logging.Logger) -> None:
    from tagsync.baseline import watched_document

    data = watched_document(loaded.fetched.data, names)
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return  # unchanged: keep the mtime, no churn
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise LocalError.from_os_error(exc, path, "write the watched-tags file") from None
    log.info("wrote the watched tags of this version to %s", path, extra={"event": "saved"})


def _report_limit(channels: Sequence[Any], default: int = 20) -> int:
    """How many CIDRs per tag the run's own report lists: as many as the alerts show."""
    limits = (getattr(getattr(c, "settings", None), "max_prefixes", default) for c in channels)
    return max(limits, default=default)


@records_check_result  # last-check.json, for `tagsync status`
def run_check(
    config: Config,
    cloud: Cloud,
    state_dir: Path,
    request: CheckRequest,
    log: logging.Logger | None = None,
) -> CheckResult:
    """One whole run; raises a TagsyncError (with its exit code) when it cannot finish.

    Exit codes: 0 no address gained or lost (re-aggregations only re-render), 1 changed and
    alerted; errors carry 3 (bad data, refused by a guard, lock timeout), 4 (download failed) or
    5 (an alert channel failed).
    """
    log = log or get_logger()
    where = str(config.path or "config")
    # Config mistakes and missing secrets surface before anything is downloaded.
    channels = load_channels(config.section("alerts"), where)
    formats = check_formats(config)
    out_dir = request.out_dir or config.output_dir or default_output_dir()
    tags = list(request.tags or config.tags)
    history_keep = keep_setting(config)
    from tagsync.grace import grace_setting

    grace = grace_setting(config)
    store = Store(state_dir, cloud)
    # Every place this run writes is checked before the first write (and the download): a
    # mistyped --report must not fail after the configs were already replaced.
    _preflight(store, out_dir, request.report, request.save_watched)

    def waiting() -> None:
        log.info("another run holds the state lock in %s: waiting", store.root)

    with store.locked(request.lock_timeout, on_wait=waiting):
        loaded = load_version(
            cloud, config.download, url=request.url, file=request.file, show_progress=False
        )
        new = loaded.service_tags
        log.info(
            "loaded %s changeNumber %d from %s",
            new.cloud,
            new.change_number,
            loaded.fetched.source,
            extra={"event": "loaded", "change_number": new.change_number, "sha256": new.sha256},
        )
        if not request.tags and store.meta() is None:
            # As every other command: a profile tag the cloud does not publish (mdi-v3 in
            # China) is named as such, not as an unknown tag (see Session.watched).
            from tagsync.profiles import require_profile_tags

            require_profile_tags(new, config, cloud.name)
        candidate = compare_with_snapshot(
            store,
            loaded,
            tags=tags,
            regions=request.regions or config.regions,
            allow_rollback=request.allow_rollback,
            force=request.force,
            max_removal_ratio=config.max_removal_ratio,
        )
        names, changes = candidate.names or [], candidate.changes
        _check_vanished(names, new, log)
        # The new version's publication (deploy-by), the flaps it closes, and what removal
        # grace keeps in the allow-lists, all from the kept history.
        from tagsync.staging import staged

        now = datetime.now(UTC)
        staged_changes, holds = staged(
            store, new, loaded.fetched.source, names, changes=changes, grace=grace, now=now
        )
        changes = staged_changes or changes
        if holds is not None and holds.now:
            held = {name: [item.cidr for item in items] for name, items in holds.now.items()}
            log.info(
                "removal grace (%s) keeps %s lost in the allow-lists",
                holds.grace.text,
                counted(sum(map(len, held.values())), "CIDR"),
                extra={"event": "held", "held": held},
            )

        # --force accepts a tag losing every prefix, so it must also render it empty.
        files = _render(loaded, names, changes, config, formats, request.force, holds)
        publish(files, out_dir, log)

        alerting = changes.changed if request.text_changes else changes.coverage_changed
        if changes.changed and not alerting:
            log.info(
                "re-aggregated only (same addresses): %s; configs re-rendered, no alert",
                ", ".join(changes.reaggregated),
                extra={"event": "reaggregated", "tags": list(changes.reaggregated)},
            )
        elif alerting:
            _announce(changes, log, _report_limit(channels))
            if request.report is not None:
                report = fit_markdown(changes, REPORT_MAX_CHARS, files=sorted(files))
                try:
                    atomic_write_bytes(request.report, report.encode("utf-8"))
                except OSError as exc:
                    raise LocalError.from_os_error(
                        exc, request.report, "write the report"
                    ) from None
            if not channels:
                log.log(
                    NOTICE,
                    "no alert channel configured (alerts: in the config): no alert sent",
                    extra={"event": "no_alert_channel"},
                )
            failures = send_alerts(channels, changes, log)
            if failures:
                # Each failure was logged as it happened; the summary only counts them.
                raise AlertError(
                    f"{len(failures)} of {counted(len(channels), 'alert channel')} failed "
                    "(see above); "
                    "snapshot not advanced, the next run alerts again"
                )
        else:
            log.info("no change in the watched tags", extra={"event": "unchanged"})

        accepted = accept(store, candidate, history_keep=history_keep).saved
        # The baseline follows what was alerted on (and reviewed), not every republication.
        if request.save_watched is not None and (alerting or not request.save_watched.exists()):
            _save_watched(request.save_watched, loaded, names, log)
        if accepted:
            log.info(
                "accepted %s changeNumber %d",
                new.cloud,
                new.change_number,
                extra={"event": "accepted", "change_number": new.change_number},
            )
    return CheckResult(
        exit_code=EXIT_CHANGED if alerting else EXIT_OK,
        changes=changes,
        out_dir=out_dir,
        files=tuple(sorted(files)),
        accepted=accepted,
    )
