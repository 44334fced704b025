"""A simple table's rows under its header, for imports whose columns are named by a few spellings each (the
patrol roster, the household → grid list): find the header in the first rows, read the cells after it, clean
a cell to text. The register and the scheme items read their richer sheets themselves."""
from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .cells import N_, Bad, Formula, Problem, cell_value, clean_cell, number_text
from .files import (
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    MSG_TOO_BIG_INSIDE,
    csv_lines,
    decode_text,
    open_workbook,
    pasted_lines,
    sheet_rows,
)

#: a formula cell in a column that takes text
MSG_FORMULA = N_("The cell holds a formula; type the value itself.")

#: a required column left empty
MSG_REQUIRED = N_("This cell is empty; the column is required.")

Rows = list[tuple[int, list[Any]]]


def header_positions(cells: list[Any], columns: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Column name → position, for each column whose spelling (spaces ignored) is in this row."""
    found: dict[str, int] = {}
    for i, c in enumerate(cells):
        text = str(c).strip().replace(" ", "").replace("\u3000", "") if c is not None else ""
        for name, spellings in columns.items():
            if text in spellings and name not in found:
                found[name] = i
    return found


def cell_text(value: Any, max_len: int) -> str | None:
    """A cell as clean text: numbers without ".0", dates as ISO days; a formula or a bad cell refused (Bad)."""
    if isinstance(value, Bad):
        raise value
    if isinstance(value, Formula):
        raise Bad(_l(MSG_FORMULA))
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return clean_cell(str(value), max_len) if value is not None else None


def read_table(data: bytes, kind: str, columns: Mapping[str, Iterable[str]],
               accept: Callable[[dict[str, int]], bool] = bool) -> tuple[Rows, dict[str, int] | None]:
    """The rows after the first row (of the first few) whose header `accept`s, and the header's positions.

    (None for the header: no row looked like one.) :raise ImportFileError: the input cannot be read."""
    if kind == "xlsx":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = open_workbook(data)
            try:
                ws = wb.worksheets[0]
                ws.reset_dimensions()
                rows = [(n, [cell_value(c) for c in cells])
                        for n, cells in enumerate(sheet_rows(ws, 1, None, MAX_COLUMNS), start=1)]
            finally:
                wb.close()
    else:
        text = decode_text(data, too_big=MSG_TOO_BIG_INSIDE)
        rows = list(csv_lines(text) if kind == "csv" else pasted_lines(text))
    for i, (_n, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        header = header_positions(cells, columns)
        if accept(header):
            return rows[i + 1:], header
    return [], None


def row_values(number: int, cells: list[Any], header: Mapping[str, int], required: Iterable[str],
               problems: list[Problem], max_len: int = 64) -> dict[str, str | None] | None:
    """One row's cells as text by column name; None (with the problems added) when a cell is bad or a
    required one is empty."""
    values: dict[str, str | None] = {}
    bad = False
    for name, i in header.items():
        try:
            values[name] = cell_text(cells[i] if i < len(cells) else None, max_len)
        except Bad as e:
            problems.append(Problem(number, name, e.message))
            values[name], bad = None, True
    for name in required:
        if not values.get(name) and not bad:
            problems.append(Problem(number, name, _l(MSG_REQUIRED)))
            bad = True
    return None if bad else values
