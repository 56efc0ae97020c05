"""A Prometheus textfile-collector file for unattended runs (node_exporter's convention).

A cron job that silently stopped looks exactly like one with nothing to report; monitoring
can only tell them apart from a timestamp that keeps moving. ``check --metrics-file F.prom``
rewrites F after every run, success or failure: when it ran, how it ended, the accepted
version, and each watched tag's prefix and address counts. node_exporter reads every ``*.prom``
in its ``--collector.textfile.directory``; the file is replaced atomically (temp file in the
same directory, then rename) as that collector's documentation asks, so a scrape never sees
half a file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagsync.status import TagCounts
    from tagsync.store import Store

__all__ = [
    "RunMetrics",
    "previous_success",
    "record_run",
    "render_metrics",
    "write_metrics",
]

_SUCCESS = "tagsync_last_success_timestamp_seconds"


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """What one run reports."""

    cloud: str
    exit_code: int
    finished_at: float  # Unix time
    last_success: float | None  # Unix time of the last run that ended 0 or 1
    change_number: int | None  # the accepted version after the run
    tags: Sequence[TagCounts] = ()


def _label(value: str) -> str:
    # The exposition format's escapes for label values: backslash, double quote, newline.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _family(
    name: str, help_text: str, samples: Sequence[tuple[Mapping[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        inner = ",".join(f'{key}="{_label(text)}"' for key, text in labels.items())
        lines.append(f"{name}{{{inner}}} {_number(value)}")
    return lines


def render_metrics(run: RunMetrics) -> str:
    """The file's text: gauges with a ``cloud`` label, sorted, LF line ends."""
    cloud = {"cloud": run.cloud}
    lines = [
        *_family(
            "tagsync_last_run_timestamp_seconds",
            "Unix time the last tagsync check finished.",
            [(cloud, run.finished_at)],
        ),
        *_family(
            "tagsync_last_run_exit_code",
            "Exit code of the last check (0 unchanged, 1 changed, 2+ failed: see README).",
            [(cloud, run.exit_code)],
        ),
    ]
    if run.last_success is not None:
        lines += _family(
            _SUCCESS, "Unix time of the last check that ended 0 or 1.", [(cloud, run.last_success)]
        )
    if run.change_number is not None:
        lines += _family(
            "tagsync_accepted_change_number",
            "changeNumber of the accepted version.",
            [(cloud, run.change_number)],
        )
    tags = sorted(run.tags, key=lambda tag: tag.name)
    per_family = [
        ({**cloud, "tag": t.name, "family": family}, value)
        for t in tags
        for family, value in (("ipv4", t.prefixes.ipv4), ("ipv6", t.prefixes.ipv6))
    ]
    addresses = [
        ({**cloud, "tag": t.name, "family": family}, value)
        for t in tags
        for family, value in (("ipv4", t.addresses.ipv4), ("ipv6", t.addresses.ipv6))
    ]
    if tags:
        lines += _family(
            "tagsync_tag_prefixes", "Prefixes of a watched tag in the accepted version.", per_family
        )
        lines += _family(
            "tagsync_tag_addresses",
            "Addresses a watched tag covers in the accepted version (overlaps counted once).",
            addresses,
        )
    return "\n".join(lines) + "\n"


def previous_success(path: Path, cloud: str) -> float | None:
    """The last-success time recorded in an earlier file, so a failing run keeps it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    prefix = f'{_SUCCESS}{{cloud="{_label(cloud)}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            try:
                return float(line[len(prefix) :])
            except ValueError:
                return None
    return None


def write_metrics(path: Path, run: RunMetrics) -> None:
    """Replace ``path`` atomically with the metrics of ``run``."""
    from tagsync.atomic import atomic_write_bytes

    atomic_write_bytes(path, render_metrics(run).encode("utf-8"))


def _tag_counts(store: Store, names: Sequence[str]) -> tuple[int | None, list[TagCounts]]:
    from tagsync.status import tag_counts

    accepted = store.load_accepted(check_all_prefixes=False)
    if accepted is None:
        return None, []
    service_tags = accepted.service_tags
    counts = [tag_counts(service_tags, name) for name in names]
    return service_tags.change_number, [c for c in counts if c.present]


def record_run(path: Path, store: Store, names: Sequence[str], exit_code: int) -> None:
    """Write the metrics of a run that ended with ``exit_code``, reading the accepted version
    from ``store``; a damaged or missing snapshot leaves only the run's own gauges."""
    from tagsync.errors import TagsyncError

    now = time.time()
    try:
        change_number, counts = _tag_counts(store, names)
    except (TagsyncError, OSError):
        change_number, counts = None, []
    write_metrics(
        path,
        RunMetrics(
            cloud=store.cloud.name,
            exit_code=exit_code,
            finished_at=now,
            last_success=now if exit_code in (0, 1) else previous_success(path, store.cloud.name),
            change_number=change_number,
            tags=counts,
        ),
    )
