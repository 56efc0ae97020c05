"""The `tagsync status` command: per cloud, the accepted version, watched tags, pending
deploy-by dates, addresses held by removal grace and the last `check` (see tagsync.status)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    FormatOption,
    OutputOption,
    StateDirOption,
    handle_errors,
    note,
    open_session,
    output_format,
    write_output,
)

if TYPE_CHECKING:
    from tagsync.status import CloudStatus


def _published(date: str, basis: str) -> str:
    return date if basis == "file-name" else f"{date} (day accepted; no date in the file name)"


def _cloud_text(status: CloudStatus) -> list[str]:
    lines = [f"{status.cloud}: {status.root}"]
    meta = status.accepted
    if meta is None:
        lines.append("  accepted: none yet (run `tagsync update` or `tagsync check`)")
    else:
        lines += [
            f"  accepted: {meta.cloud} changeNumber {meta.change_number}, "
            f"published {_published(meta.published, meta.published_basis)}",
            f"    accepted at {meta.accepted_at} from {meta.source}",
        ]
    lines.append(f"  kept versions: {status.kept_versions}")
    if status.tags:
        lines.append("  watched tags:")
    for tag in status.tags:
        if not tag.present:
            lines.append(f"    {tag.name}: not in the accepted version")
            continue
        lines.append(
            f"    {tag.name}: {tag.prefixes.ipv4} IPv4 + {tag.prefixes.ipv6} IPv6 prefixes, "
            f"{tag.addresses.text()}"
        )
    if not status.pending:
        lines.append("  deploy-by: nothing pending (every kept version is a week old)")
    for pending in status.pending:
        head = (
            f"  deploy-by {pending.deploy_by}: changeNumber {pending.change_number}, published "
            f"{_published(pending.published, pending.published_basis)}"
        )
        if not pending.compared:
            lines.append(f"{head}; no earlier kept version to compare with")
            continue
        if not pending.gained:
            lines.append(f"{head}; the watched tags gained no address")
            continue
        lines.append(f"{head}; gained {pending.gained_addresses.text()}:")
        for name, cidrs in pending.gained.items():
            lines.extend(f"    + {cidr}  {name}" for cidr in cidrs)
    if status.grace is None:
        lines.append("  removal grace: off")
    elif not status.held:
        lines.append(f"  removal grace ({status.grace}): nothing held")
    else:
        lines.append(f"  removal grace ({status.grace}): held")
        for name, held in status.held.items():
            lines.extend(f"    ~ {cidr}  {name}, until {until}" for cidr, until in held)
    check = status.last_check
    if check is None:
        lines.append("  last check: none recorded")
    else:
        lines.append(f"  last check: {check['at']}: {check['result']} (exit {check['exit_code']})")
    return lines


def _text(statuses: list[CloudStatus]) -> str:
    blocks = ["\n".join(_cloud_text(status)) for status in statuses]
    return "\n\n".join(blocks) + "\n"


def _json(statuses: list[CloudStatus]) -> str:
    import json

    document = {"clouds": [status.to_dict() for status in statuses]}
    return json.dumps(document, indent=2) + "\n"


@handle_errors
def status(
    fmt: FormatOption = "text",
    output: OutputOption = None,
    cloud: CloudOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show, per cloud with state (or --cloud), the accepted version, the watched tags'
    prefix and address counts, pending deploy-by dates (publication + 7 days) with the
    addresses gained, what removal grace holds, and the last `check` result."""
    from tagsync.clouds import CLOUDS
    from tagsync.status import LAST_CHECK, cloud_status
    from tagsync.store import Store

    fmt = output_format(fmt)
    session = open_session(config, cloud, state_dir)
    session.store()  # checks the history section of the config
    if cloud is not None:
        clouds = [session.cloud]
    else:
        clouds = [
            known
            for known in CLOUDS.values()
            if any(
                (session.state_dir / known.name / name).exists()
                for name in ("snapshot.json", "history", LAST_CHECK)
            )
        ]
        if not clouds:
            note(f"no cloud has state in {session.state_dir} yet")
    statuses = [
        cloud_status(Store(session.state_dir, known), session.config, session.config.tags)
        for known in clouds
    ]
    for one in statuses:
        for problem in one.problems:
            note(f"warning: {problem}")
    render = _json if fmt == "json" else _text
    write_output(render(statuses) if statuses or fmt == "json" else "", output)
