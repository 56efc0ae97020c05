"""The `tagsync profiles` command: the connectivity profiles, their tags and their sources."""

from __future__ import annotations

from typing import Any

from tagsync.commands.common import (
    FormatOption,
    handle_errors,
    output_format,
    to_json,
    write_output,
)


def _describe() -> list[dict[str, Any]]:
    from tagsync.ports import PORTS
    from tagsync.profiles import DEFAULT_PROFILE, PROFILES

    entries = []
    for profile in PROFILES.values():
        proxy = {key: list(plan.domains) for key, plan in profile.proxy.items()}
        workspace = {
            key: f"<workspace>{plan.workspace_suffix}"
            for key, plan in profile.proxy.items()
            if plan.workspace_suffix
        }
        sources = [profile.tags_doc, PORTS[profile.name].doc]
        sources += [plan.doc for plan in profile.proxy.values()]
        sources += [doc for facts in profile.expressroute.values() for doc in facts.docs]
        entries.append(
            {
                "name": profile.name,
                "default": profile.name == DEFAULT_PROFILE,
                "sensor": profile.sensor,
                "summary": profile.summary,
                "tags": list(profile.tags),
                "proxy_domains": proxy,
                "proxy_workspace_hosts": workspace,
                "expressroute_communities": {
                    cloud: list(facts.communities) for cloud, facts in profile.expressroute.items()
                },
                "sources": [{"title": doc.title, "url": doc.url} for doc in dict.fromkeys(sources)],
            }
        )
    return entries


def _text(entries: list[dict[str, Any]]) -> str:
    lines = []
    for entry in entries:
        mark = " (default)" if entry["default"] else ""
        lines.append(f"{entry['name']}{mark}: sensor {entry['sensor']}: {entry['summary']}")
        lines.append(f"  tags: {', '.join(entry['tags'])}")
        for key, host in entry["proxy_workspace_hosts"].items():
            lines.append(f"  proxy, {key}, with workspace: {host}")
        for key, domains in entry["proxy_domains"].items():
            if key not in entry["proxy_workspace_hosts"]:
                lines.append(f"  proxy, {key}: {', '.join(domains)}")
        for cloud, values in entry["expressroute_communities"].items():
            lines.append(f"  ExpressRoute, {cloud}: {', '.join(values) or 'none documented'}")
        lines += [f"  source: {s['title']} <{s['url']}>" for s in entry["sources"]]
    return "\n".join(lines) + "\n"


@handle_errors(session=False)
def profiles(fmt: FormatOption = "text") -> None:
    """List the connectivity profiles (config `profile:` or --profile): the sensor generation,
    its service tags, proxy hosts and ExpressRoute communities, and the pages they come from."""
    fmt = output_format(fmt)
    entries = _describe()
    write_output(to_json(entries) if fmt == "json" else _text(entries), None)
