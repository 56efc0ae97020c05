"""``tagsync doctor``: for the chosen profile and cloud, what an admin must open and why, with
the documentation page of each fact: the tags (prefix and address counts, changeNumbers), the
sensor's ports, the proxy hosts and the ExpressRoute community.

Plain functions over already-loaded data: :func:`doctor_report` builds a JSON-ready mapping,
:func:`doctor_text` the one-screen text. The command (``tagsync/commands/doctor.py``) loads
the version and the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tagsync.errors import ConfigError
from tagsync.profiles import DOCS, PROFILES, USGOV_OFFERINGS, Doc

if TYPE_CHECKING:
    from tagsync.config import Config
    from tagsync.model import ServiceTags

__all__ = ["WHOLE_TAGS", "doctor_report", "doctor_text"]

# Why a firewall must allow every prefix of a tag, not the addresses seen in use today.
WHOLE_TAGS = (
    "Allow whole tags: Microsoft moved v2.x sensors to new addresses inside the tag from "
    "December 2025 (Microsoft 365 message center MC1194061), and sites that allowed only part "
    "of the published range lost connectivity."
)


def _doc(doc: Doc) -> dict[str, str]:
    return {"title": doc.title, "url": doc.url}


def _tag_entries(service_tags: ServiceTags, names: list[str], regions: bool) -> dict[str, Any]:
    from tagsync.coverage import address_counts
    from tagsync.prefixes import split_families
    from tagsync.tagnames import resolve_tags

    entries = []
    union: set[str] = set()
    for tag in resolve_tags(service_tags, names, regions=regions):
        v4, v6 = split_families(list(set(tag.prefixes)))
        counts = address_counts(tag.prefixes)
        union.update(tag.prefixes)
        entries.append(
            {
                "name": tag.name,
                "change_number": tag.change_number,
                "ipv4_prefixes": len(v4),
                "ipv6_prefixes": len(v6),
                "ipv4_addresses": counts.ipv4,
                "ipv6_addresses": counts.ipv6,
            }
        )
    v4, v6 = split_families(list(union))
    counts = address_counts(union)
    total = {
        "ipv4_prefixes": len(v4),
        "ipv6_prefixes": len(v6),
        "ipv4_addresses": counts.ipv4,
        "ipv6_addresses": counts.ipv6,
    }
    return {"tags": entries, "total": total}


def _proxy(config: Config, file_cloud: str) -> dict[str, Any]:
    from tagsync.formats.proxy import ProxyOptions, proxy_view
    from tagsync.formats.settings import render_settings

    options = render_settings(config.section("render")).get(ProxyOptions)
    result: dict[str, Any] = {}
    try:
        views = {"": proxy_view(options, file_cloud)}
    except ConfigError as exc:
        result["error"] = exc.message
        if config.cloud != "usgov" and "usgov" not in exc.message:
            return result
        # US Gov without usgov_offering: what each offering would allow.
        views = {}
        for offering in USGOV_OFFERINGS:
            chosen = ProxyOptions(
                profile=options.profile, workspace=options.workspace, usgov_offering=offering
            )
            views[offering] = proxy_view(chosen, file_cloud)
    first = next(iter(views.values()))
    if "" in views:
        result["hosts"] = list(first.domains)
    else:
        result["hosts_by_offering"] = {k: list(v.domains) for k, v in views.items()}
    result["certificate_hosts"] = list(first.certificate_hosts)
    result["certificate_paths"] = [f"{path}*" for path in first.certificate_paths]
    result["notes"] = list(first.notes)
    result["sources"] = [_doc(d) for d in first.sources]
    return result


def _expressroute(config: Config, file_cloud: str, names: list[str]) -> dict[str, Any]:
    from tagsync.formats.expressroute import ExpressRouteOptions, expressroute_view
    from tagsync.formats.settings import render_settings

    options = render_settings(config.section("render")).get(ExpressRouteOptions)
    view = expressroute_view(options, file_cloud, names)
    return {
        "communities": [{"value": c.value, "service": c.service} for c in view.communities],
        "configured": view.configured,
        "documented": view.facts.summary if view.facts else None,
        "warnings": list(view.warnings),
        "sources": [_doc(d) for d in view.sources],
    }


def doctor_report(
    config: Config, cloud: str, service_tags: ServiceTags, source: str
) -> dict[str, Any]:
    """Everything the screen shows, JSON-ready. ``config`` is the effective config (after
    ``apply_profile``), ``source`` says where the version came from."""
    from tagsync.ports import PORTS

    profile = PROFILES[config.profile]
    names = list(config.tags)
    tags = _tag_entries(service_tags, names, config.regions)
    ports = PORTS[profile.name]
    return {
        "profile": {"name": profile.name, "sensor": profile.sensor, "summary": profile.summary},
        "cloud": cloud,
        "version": {"change_number": service_tags.change_number, "source": source},
        "tags": tags["tags"],
        "total": tags["total"],
        "tags_explicit": config.tags_explicit,
        "tags_source": _doc(profile.tags_doc),
        "whole_tags": WHOLE_TAGS,
        "whole_tags_source": {"title": "Microsoft 365 message center MC1194061", "url": ""},
        "ports": {
            "rules": [
                {
                    "protocol": r.protocol,
                    "port": r.port,
                    "direction": r.direction,
                    "peer": r.peer,
                    "label": r.label,
                }
                for r in ports.rules
            ],
            "notes": list(ports.notes),
            "source": _doc(ports.doc),
        },
        "proxy": _proxy(config, service_tags.cloud),
        "expressroute": _expressroute(
            config, service_tags.cloud, [t["name"] for t in tags["tags"]]
        ),
        "workspace": config.workspace,
        "sources": [_doc(d) for d in DOCS.values()],
    }


def _count(value: int) -> str:
    from tagsync.coverage import count_text

    return count_text(value)


def _counts(entry: dict[str, Any]) -> str:
    return (
        f"{entry['ipv4_prefixes']} IPv4 / {entry['ipv6_prefixes']} IPv6 prefixes, "
        f"{_count(entry['ipv4_addresses'])} IPv4 / {_count(entry['ipv6_addresses'])} IPv6 "
        "addresses"
    )


def _source(doc: dict[str, str], indent: str = "    ") -> str:
    return f"{indent}source: {doc['title']}" + (f" <{doc['url']}>" if doc["url"] else "")


def doctor_text(report: dict[str, Any]) -> str:
    """One screen: what to open and why, each fact with its page."""
    profile = report["profile"]
    version = report["version"]
    lines = [
        f"Defender for Identity sensor {profile['sensor']} (profile {profile['name']}), "
        f"{report['cloud']} cloud: {profile['summary']}",
        f"Version: changeNumber {version['change_number']} ({version['source']})",
        "",
        "Service tags: allow TCP 443 to every prefix of"
        + (" (tags: from the config)" if report["tags_explicit"] else ""),
    ]
    for tag in report["tags"]:
        lines.append(f"  {tag['name']} (changeNumber {tag['change_number']}): {_counts(tag)}")
    if len(report["tags"]) > 1:
        lines.append(f"  together, one allow-list: {_counts(report['total'])}")
    lines.append(_source(report["tags_source"]))
    if profile["name"] == "mdi-v2":
        lines.append(f"  {report['whole_tags']}")
    ports = report["ports"]
    lines += ["", "Ports:"]
    for rule in ports["rules"]:
        lines.append(
            f"  {rule['protocol'].upper()} {rule['port']} {rule['direction']}: {rule['label']}"
        )
    lines += [f"  {note}" for note in ports["notes"]]
    lines.append(_source(ports["source"]))
    proxy = report["proxy"]
    lines += ["", "Proxy (never inspect this TLS):"]
    if "hosts" in proxy:
        lines.append(f"  HTTPS (CONNECT 443): {', '.join(proxy['hosts'])}")
    elif "hosts_by_offering" in proxy:
        lines.append(f"  {proxy['error']}")
        for offering, hosts in proxy["hosts_by_offering"].items():
            lines.append(f"  HTTPS (CONNECT 443), {offering}: {', '.join(hosts)}")
    else:
        lines.append(f"  {proxy['error']}")
    if proxy.get("certificate_hosts"):
        fetched = proxy["certificate_hosts"] + proxy["certificate_paths"]
        lines.append(f"  HTTP 80 (certificate checks): {', '.join(fetched)}")
    lines += [f"  note: {note}" for note in proxy.get("notes", [])]
    lines += [_source(doc) for doc in proxy.get("sources", [])]
    er = report["expressroute"]
    lines += ["", "ExpressRoute (Microsoft peering route filter):"]
    if er["communities"]:
        for community in er["communities"]:
            service = community["service"] or "not in Microsoft's service table"
            lines.append(f"  community {community['value']} ({service})")
    else:
        lines.append("  no community to allow")
    if er["documented"]:
        lines.append(f"  {er['documented']}")
    lines += [f"  warning: {w}" for w in er["warnings"]]
    lines += [_source(doc) for doc in er["sources"]]
    return "\n".join(lines) + "\n"
