"""Per-format quoting and name checks: the only way untrusted text reaches generated files.

Every function either returns text that is inert in its target syntax or raises. Values that
cannot be quoted safely (control characters, quote characters where no quoting exists) are
refused rather than mangled, so a hostile tag name or config value fails loudly.
"""

from __future__ import annotations

import json
import re
import shlex

from tagsync.errors import DataError, TagsyncError

__all__ = [
    "check_name",
    "comment_text",
    "js_string",
    "markdown_code",
    "printable",
    "ps_quote",
    "sh_quote",
    "xml_comment_text",
]

# Printable ASCII only: no control characters (newline, CR, NUL, ESC) and no look-alike
# Unicode quotes, which PowerShell treats as real quotes.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def printable(value: object, what: str, error: type[TagsyncError] = DataError) -> str:
    """``value`` as a string of printable ASCII, or raise ``error`` naming ``what``."""
    text = str(value)
    if not _PRINTABLE.fullmatch(text):
        raise error(f"{what} {text!r:.60} contains control or non-ASCII characters")
    return text


def check_name(
    value: str,
    pattern: re.Pattern[str],
    what: str,
    error: type[TagsyncError] = DataError,
) -> str:
    """Return ``value`` if it fully matches ``pattern`` (a name syntax), else raise."""
    if not pattern.fullmatch(value):
        raise error(f"{what} {value!r:.80} is not a valid name (must match {pattern.pattern})")
    return value


def comment_text(value: object) -> str:
    """Text for a line comment (#, //): one line of printable ASCII."""
    return printable(value, "comment text")


def xml_comment_text(value: object) -> str:
    """Text for an XML comment: printable ASCII and never the ``--`` that would end it."""
    text = printable(value, "comment text")
    while "--" in text:
        text = text.replace("--", "- -")
    return text


def ps_quote(value: object) -> str:
    """A PowerShell single-quoted string literal.

    Inside single quotes PowerShell expands nothing ($(...), backticks are literal); the only
    special character is the quote itself, doubled. Non-ASCII is refused because PowerShell
    also accepts the typographic quotes U+2018..U+201B as string delimiters.
    """
    text = printable(value, "PowerShell value")
    return "'" + text.replace("'", "''") + "'"


def sh_quote(value: object) -> str:
    """A POSIX shell word (single-quoted when needed), one line of printable ASCII."""
    return shlex.quote(printable(value, "shell value"))


def js_string(value: object) -> str:
    """A JavaScript (PAC file) double-quoted string literal of printable ASCII.

    JSON string syntax is valid JavaScript; ``<``, ``>`` and ``&`` are escaped as well so the
    literal stays inert even if the script is ever embedded in HTML.
    """
    text = printable(value, "JavaScript value")
    quoted = json.dumps(text)
    return quoted.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def markdown_code(value: object) -> str:
    """Inline Markdown code: printable ASCII without backticks (they would end the span)."""
    text = printable(value, "Markdown value")
    if "`" in text:
        raise DataError(f"Markdown value {text!r:.60} contains a backtick")
    return f"`{text}`"
