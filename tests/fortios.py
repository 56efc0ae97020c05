"""A strict model of the FortiOS CLI subset firewall configs use, for replaying rendered files.

``config <path>`` / ``edit NAME`` / ``set KEY VALUES`` / ``append KEY VALUES`` / ``unselect KEY
VALUES`` / ``next`` / ``delete NAME`` / ``end``, read with shlex as the CLI tokenises them. It
enforces what FortiOS would refuse: unknown commands, unterminated blocks, names over the length
limit, members or policy addresses that name nothing, an emptied group, deleting an entry still
in use, appending a member twice. ``edit 0`` in ``firewall policy`` adds a policy with the next
free ID, as on the device.

Shared by the FortiGate tests (the built-in format, the user-template sample) and the
cross-check against Aerleon's ``fortigate`` generator.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

__all__ = ["FortiConfig", "parse_fortios"]

NAME_MAX = 63  # address and group names: 63 before FortiOS 6.2 (79 since); tagsync keeps 63
GROUP_TABLES = {"firewall addrgrp": "firewall address", "firewall addrgrp6": "firewall address6"}
REFERENCE_KEYS = {"member", "dstaddr", "srcaddr", "dstaddr6", "srcaddr6"}


@dataclass
class FortiConfig:
    """Tables by path (``"firewall address"``) -> entry name -> key -> values."""

    tables: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    quoted_names: bool = True  # tagsync always quotes names; Aerleon does not
    edits: dict[tuple[str, str], int] = field(default_factory=dict)

    def table(self, path: str) -> dict[str, dict[str, list[str]]]:
        return self.tables.setdefault(path, {})

    def apply(self, text: str) -> FortiConfig:
        path: str | None = None
        name: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            assert line.isascii() and line.isprintable(), f"line {number}: {raw!r}"
            words = shlex.split(line)
            where = f"line {number}: {raw!r}"
            verb = words[0]
            if verb == "config":
                assert path is None and len(words) >= 3, where
                path = " ".join(words[1:])
                self.table(path)
            elif verb == "edit":
                assert path is not None and name is None and len(words) == 2, where
                name = self._edit(path, words[1], raw.strip(), where)
            elif verb in ("set", "append", "unselect"):
                assert path is not None and name is not None and len(words) >= 3, where
                self._change(path, name, verb, words[1], words[2:], where)
            elif verb == "next":
                assert path is not None and name is not None and len(words) == 1, where
                self._check_entry(path, name, where)
                name = None
            elif verb == "delete":
                assert path is not None and name is None and len(words) == 2, where
                self._delete(path, words[1], where)
            elif verb == "end":
                assert path is not None and name is None and len(words) == 1, where
                path = None
            else:
                raise AssertionError(f"unknown command at {where}")
        assert path is None and name is None, "unterminated config block"
        return self

    def _edit(self, path: str, name: str, line: str, where: str) -> str:
        table = self.table(path)
        if path == "firewall policy":
            assert name.isdigit(), where
            if name == "0":  # the next free policy ID
                name = str(max((int(k) for k in table), default=0) + 1)
        else:
            if self.quoted_names:
                assert line == f'edit "{name}"', f"name not quoted: {where}"
            assert 1 <= len(name) <= NAME_MAX, f"name too long: {where}"
        self.edits[(path, name)] = self.edits.get((path, name), 0) + 1
        table.setdefault(name, {})
        return name

    def _change(
        self, path: str, name: str, verb: str, key: str, values: list[str], where: str
    ) -> None:
        entry = self.tables[path][name]
        if verb == "set":
            entry[key] = list(values)
        elif verb == "append":
            current = entry.setdefault(key, [])
            assert not set(values) & set(current), f"already a {key}: {where}"
            current.extend(values)
        else:
            current = entry.get(key, [])
            assert set(values) <= set(current), f"not a {key}: {where}"
            entry[key] = [v for v in current if v not in values]
            assert entry[key], f"{key} left empty: {where}"
        assert len(entry[key]) == len(set(entry[key])), f"duplicate {key}: {where}"

    def _check_entry(self, path: str, name: str, where: str) -> None:
        entry = self.tables[path][name]
        for key in REFERENCE_KEYS & entry.keys():
            for value in entry[key]:
                assert self.defined(value), f"{key} {value!r} names nothing: {where}"
        if path in GROUP_TABLES:
            assert entry.get("member"), f"empty group: {where}"

    def defined(self, name: str) -> bool:
        if name == "all":
            return True
        return any(name in self.tables.get(t, {}) for t in (*GROUP_TABLES, *GROUP_TABLES.values()))

    def _delete(self, path: str, name: str, where: str) -> None:
        assert name in self.tables[path], f"no such entry: {where}"
        for other_path, table in self.tables.items():
            for other, entry in table.items():
                for key in REFERENCE_KEYS & entry.keys():
                    assert name not in entry[key], f"still used by {other_path} {other}: {where}"
        del self.tables[path][name]

    # --- questions the tests ask -------------------------------------------------------
    def members(self, group_path: str, group: str) -> list[str]:
        """Every address object under ``group``, through nested groups."""
        found: list[str] = []
        for member in self.tables[group_path][group]["member"]:
            if member in self.tables[group_path]:
                found.extend(self.members(group_path, member))
            else:
                found.append(member)
        return found


def parse_fortios(text: str, *, quoted_names: bool = True) -> FortiConfig:
    """A fresh config with ``text`` applied; each entry edited at most once (a full file)."""
    config = FortiConfig(quoted_names=quoted_names).apply(text)
    repeated = [key for key, count in config.edits.items() if count > 1]
    assert not repeated, f"entries edited twice in one file: {repeated[:3]}"
    return config
