"""Cells of an imported table: the problem list, cleaning a cell's text, and making exported text safe.

Problem messages are gettext msgids marked with `N_` and translated at use with `_l(msgid, **params)`;
the report shows them row by row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from flask_babel import lazy_gettext as _l
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..text import TextRejected, clean_text


def N_(message: str) -> str:
    """Mark a msgid for extraction (a default pybabel keyword); translate later with _l(msgid, **params)."""
    return message


MSG_EXCEL_ERROR = N_("The cell shows the Excel error %(value)s instead of a value.")
MSG_TOO_LONG = N_("Too long: at most %(max)s characters are allowed, this has %(n)s.")
MSG_MISSING_COLUMN = N_("The column %(column)s is missing from the header row.")
MSG_DUPLICATE_COLUMN = N_("The column %(column)s appears twice in the header row.")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: row number (None for the whole file), column header, message.

    `message` is a lazy gettext string; `text` is it as a plain str (lazy strings render escaped too since
    `app.i18n.escape_lazy_strings`, but a plain str needs no such care).
    """

    row: int | None
    column: str | None
    message: Any

    @property
    def text(self) -> str:
        return str(self.message)


def sort_problems(problems: list[Problem], columns: Iterable[str]) -> None:
    """Order the report as the sheet reads: by row (whole-file problems first), then by column."""
    order = {name: i for i, name in enumerate(columns)}
    problems.sort(key=lambda p: (p.row or 0, order.get(p.column or "", -1)))


class Bad(Exception):
    """A cell value that cannot be used; carries the message for the report."""

    def __init__(self, message: Any):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Formula:
    """A workbook cell holding a formula: never evaluated; its text is kept for the feature to judge."""

    text: str


def cell_value(cell: Any) -> Any:
    """A read-only workbook cell as Python data: None, a Formula, a Bad (an Excel error such as #REF!),
    "TRUE"/"FALSE" for booleans, else the stored value (str, int, float, date/datetime)."""
    v = cell.value
    if v is None:
        return None
    if cell.data_type == "f":
        return Formula(str(getattr(v, "text", v) or ""))  # ArrayFormula / DataTableFormula carry .text
    if cell.data_type == "e":
        return Bad(_l(MSG_EXCEL_ERROR, value=str(v)))
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return v


def is_blank(value: Any) -> bool:
    """An empty cell: None, or text of spaces only (ideographic spaces and line breaks included)."""
    return value is None or (isinstance(value, str) and not value.strip(" \t\u3000\r\n"))


def number_text(v: float | int) -> str:
    """A number cell as people typed it: 12.0 is "12", no exponent for fifteen digits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        v = int(v)
    return str(v) if isinstance(v, int) else f"{v:.15g}"


def clean_cell(value: str, max_len: int, *, multiline: bool = False) -> str | None:
    """Clean text (NFC, trimmed, no control/bidi/zero-width characters), or None when empty.

    :raise Bad: the text holds refused characters, or is longer than `max_len`.
    """
    try:
        s = clean_text(value, multiline=multiline)
    except TextRejected as e:
        raise Bad(e.args[0]) from None
    if not s:
        return None
    if len(s) > max_len:
        raise Bad(_l(MSG_TOO_LONG, max=max_len, n=len(s)))
    return s


_FORMULA_TRIGGERS = ("=", "+", "-", "@")


def excel_safe(value: Any) -> Any:
    """Neutralise spreadsheet formula injection on export (docs/architecture.md, "Input and files"; ASVS 1.2.10).

    Text that starts with = + - @, a tab or a carriage return (also after leading whitespace) gets a
    leading apostrophe; numbers and dates stay as they are, so -50 stays a number.
    """
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value and (value[0] in "\t\r\n" or value.lstrip()[:1] in _FORMULA_TRIGGERS):
        return "'" + value
    return value
