"""The `tagsync doctor` command: what to open for the chosen profile and cloud, and why."""

from __future__ import annotations

from tagsync.commands.common import (
    CloudOption,
    ConfigOption,
    FileOption,
    FormatOption,
    StateDirOption,
    handle_errors,
    open_session,
    output_format,
    to_json,
    write_output,
)


@handle_errors
def doctor(
    fmt: FormatOption = "text",
    cloud: CloudOption = None,
    file: FileOption = None,
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
) -> None:
    """One screen for the chosen profile (--profile) and cloud: tags with prefix and address
    counts and the accepted changeNumber (or --file's), ports, proxy hosts, ExpressRoute
    community, and the documentation page of each. Reads no network."""
    from tagsync.doctor import doctor_report, doctor_text
    from tagsync.errors import DataError

    fmt = output_format(fmt)
    session = open_session(config, cloud, state_dir)
    if file is not None:
        loaded = session.load(file=file, few_tags=True)
        source = f"file {file}"
    else:
        found = session.store().load_accepted(check_all_prefixes=False)
        if found is None:
            raise DataError(
                f"{session.state_dir}: no accepted {session.cloud.name} version; run "
                "`tagsync update` first, or give --file"
            )
        loaded = found
        source = f"accepted snapshot in {session.state_dir}"
    service_tags = loaded.service_tags
    session.watched(service_tags)  # the profile's tags must be in this cloud's file
    report = doctor_report(session.config, session.cloud.name, service_tags, source)
    write_output(to_json(report) if fmt == "json" else doctor_text(report), None)
