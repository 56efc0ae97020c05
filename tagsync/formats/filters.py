"""Template filters that format whole lists at once: ``lines`` and ``netmask``.

A Jinja ``{% for %}`` loop costs a few microseconds per line, and one AzureCloud render writes
about 100,000 lines; ``lines`` keeps the line syntax in the template (the pattern) while the
loop runs as C-level ``%`` formatting and ``str.join``. It is no escape hatch: every value is
checked to be printable ASCII (no newline can start a line of its own), quoting is applied per
value on request, and in autoescaped (XML) templates values are escaped and the pattern must be
marked ``|safe`` like any other markup.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from tagsync.errors import ConfigError, DataError
from tagsync.formats.quoting import js_string, printable, ps_quote, sh_quote
from tagsync.prefixes import InvalidPrefix, canonical_prefix

__all__ = ["lines", "netmask"]

_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_QUOTERS: dict[str, Callable[[object], str]] = {"ps": ps_quote, "sh": sh_quote, "js": js_string}
_NETMASKS = {
    length: ".".join(str((((1 << 32) - 1) ^ ((1 << (32 - length)) - 1)) >> s & 255)
                     for s in (24, 16, 8, 0))
    for length in range(33)
}  # fmt: skip


def _quote_all(texts: list[str], how: str) -> list[str]:
    if how == "ps" and "'" not in "".join(texts):
        return list(map("'{}'".format, texts))  # PowerShell quoting without a quote to double
    return list(map(_QUOTERS[how], texts))


def _checked(texts: list[str]) -> list[str]:
    if not _PRINTABLE.fullmatch("".join(texts)):
        for text in texts:  # name the offender
            printable(text, "template value")
    return texts


@pass_eval_context
def lines(
    eval_ctx: EvalContext, items: Iterable[Any], pattern: str, quote: str | None = None
) -> str:
    """One line per item: each ``{}`` in ``pattern`` takes the item (or, for a pair or tuple
    item, its next element); lines are joined with newlines, without a final one.

    ``quote`` ("ps", "sh" or "js") quotes every value with that filter first.
    """
    slots = pattern.count("{}")
    if slots == 0:
        raise ConfigError(f"lines: the pattern {pattern!r:.60} has no {{}} placeholder")
    if quote is not None and quote not in _QUOTERS:
        raise ConfigError(f"lines: quote must be one of {', '.join(_QUOTERS)}, not {quote!r:.20}")
    # Values column by column, so checks and quoting run once over a whole list.
    if slots == 1:
        columns = [list(map(str, items))]
    else:
        rows = list(map(tuple, items))
        if rows and set(map(len, rows)) != {slots}:
            raise ConfigError(f"lines: every item must have {slots} values for {pattern!r:.60}")
        columns = [list(map(str, column)) for column in zip(*rows, strict=True)] or [[]]
    if not columns[0]:
        return Markup("") if eval_ctx.autoescape else ""
    columns = [_checked(column) for column in columns]
    if quote is not None:
        columns = [_quote_all(column, quote) for column in columns]
    if eval_ctx.autoescape:
        columns = [
            list(map(escape, column)) if re.search(r"[&<>\"']", "".join(column)) else column
            for column in columns
        ]
        pattern = escape(pattern)  # plain text is escaped; a |safe pattern stays markup
    text = _interleave(str(pattern).split("{}"), columns)
    # Safe: every value was escaped above and the pattern is escaped unless marked |safe.
    return Markup(text) if eval_ctx.autoescape else text  # noqa: S704


def _interleave(parts: list[str], columns: list[list[str]]) -> str:
    """parts[0] v1 parts[1] v2 ... parts[-1], row after row, as one C-level join."""
    separator = parts[-1] + "\n" + parts[0]
    if len(columns) == 1:
        return parts[0] + separator.join(columns[0]) + parts[-1]
    streams: list[Iterable[str]] = []
    for column, after in zip(columns, [*parts[1:-1], separator], strict=True):
        streams += [column, itertools.repeat(after, len(column))]
    body = "".join(itertools.chain.from_iterable(zip(*streams, strict=True)))
    return parts[0] + body[: len(body) - len(separator)] + parts[-1]


def netmask(prefix: object) -> str:
    """``"10.1.0.0/16"`` -> ``"10.1.0.0 255.255.0.0"`` (IPv4 only), for address/mask syntaxes."""
    try:
        text = canonical_prefix(str(prefix))
    except InvalidPrefix as exc:
        raise DataError(f"netmask: {exc}") from None
    if ":" in text:
        raise DataError(f"netmask: {text} is not an IPv4 prefix")
    address, _, length = text.partition("/")
    return f"{address} {_NETMASKS[int(length)]}"
