"""Text from data shown literally on a terminal: :func:`literal`, :func:`visible` and :class:`LiteralConsole`.

Everything a run, a task or a model wrote is *data*. It is never parsed as Rich markup, and control
characters (ANSI escape sequences, BEL, carriage returns, bidi overrides) are replaced with visible
escapes (``\\x1b``) so the terminal never interprets them. The TUI builds its Text with
:func:`literal`; the CLI prints through :class:`LiteralConsole`, which applies the same rule to every
character it writes, whichever command produced it. CSV exports write every cell through
:func:`csv_cell` (no formula reaches a spreadsheet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

__all__ = ["CONTROL", "LiteralConsole", "count", "csv_cell", "literal", "plain_literal", "visible"]

# C0 controls but newline and tab, DEL, C1 controls (0x9b is a one-byte CSI), bidi marks and overrides.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ESCAPE_STYLE = Style(dim=True, italic=True)
_NAMED = {"\r": "\\r", "\x1b": "\\x1b", "\x00": "\\0"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: "1 run", "2 runs", "0 runs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def visible(value: object) -> str:
    """``value`` as a string with every control character replaced by its visible escape."""
    raw = "" if value is None else str(value)
    return CONTROL.sub(lambda m: _escape(m.group()), raw)


def literal(value: object, style: str | Style = "", *, oneline: bool = False) -> Text:
    """``value`` as Text shown exactly as written: no markup, control characters made visible.

    ``oneline`` folds newlines and tabs to spaces (for table cells and headers).
    """
    raw = "" if value is None else str(value)
    raw = raw.replace("\r\n", "\n").expandtabs(4)
    if oneline:
        raw = " ".join(raw.split("\n"))
    text = Text(style=style, no_wrap=oneline)
    pos = 0
    for match in CONTROL.finditer(raw):
        if match.start() > pos:
            text.append(raw[pos : match.start()])
        text.append(_escape(match.group()), _ESCAPE_STYLE)
        pos = match.end()
    if pos < len(raw):
        text.append(raw[pos:])
    return text


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` safe in a CSV cell: text a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def plain_literal(value: object) -> str:
    """The characters :func:`literal` shows, as a plain string (for search and widths)."""
    return literal(value).plain


class LiteralConsole(Console):
    """A Rich console for output that contains data: strings are never markup, never emoji codes, and
    no control character of the text reaches the terminal (only Rich's own styling and cursor codes).

    Styling is given explicitly (``style=``, ``Text.assemble``, table column styles), never as markup.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Made visible before Rich builds its Text (which would drop BEL, backspace and CR without a trace).
        return super().render_str(visible(text), **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        # The last stage before the terminal: every printed path (print, tables, progress, logs) ends here.
        # Control segments are Rich's own cursor movements (Live, progress); text segments carry data.
        return super()._render_buffer(
            segment if segment.control else Segment(visible(segment.text), segment.style, None) for segment in buffer
        )
