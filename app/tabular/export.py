"""Tables out: one way to write a feature's table to .xlsx and .csv and send it as a download.

A feature builds its `Sheet`s from its own queries (a title, a header and rows of plain values) and answers
with `table_response(sheets, fmt, "中文文件名", ascii_name="ascii-name")`. Everything that is not about the
feature's columns is done here, once:

- every text cell goes through `excel_safe` (formula injection, T14: = + - @, a leading tab or CR get a
  leading apostrophe), in both formats; numbers stay numbers (also negative ones), dates stay dates;
- .xlsx is written by openpyxl in write-only mode (rows stream to a temporary file, not a tree in memory),
  with the header bold, the top row frozen, dates formatted yyyy-mm-dd and chosen columns as text ("@");
- .csv is UTF-8 with a byte-order mark, so Excel and WPS open Chinese text correctly; several sheets
  follow one another, each after a line with its title and a blank line between them;
- the download carries the Chinese file name as RFC 5987 filename*=UTF-8'' with an ASCII fallback
  (app.printing.download_response) and is never cached.

Values a sheet may hold: None, str, int, float, Decimal, dt.date, dt.datetime (naive, village-local:
`local_moment` turns a stored UTC time into one). Booleans are refused: say what they mean in words.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Collection, Iterable, Sequence

from flask import Response
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from werkzeug.wsgi import FileWrapper

from ..db import VILLAGE_TZ
from ..printing import download_response
from .cells import excel_safe, number_text

#: the formats a table downloads as, with their media types
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
#: the choice a download form offers
FORMAT_CHOICES = [("xlsx", _l("Excel workbook (.xlsx)")), ("csv", _l("CSV file (.csv)"))]
#: a table is built in memory up to this size, then in a temporary file
_SPOOL_BYTES = 8 * 1024 * 1024
#: Excel's limit on a sheet name, and the characters it refuses in one
_SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass
class Sheet:
    """One table: a title (the sheet's name in .xlsx, a line above the table in a several-table .csv), the
    header, and the rows (any iterable: it is read once, as the file is written)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    #: column widths in characters, in header order (fewer is fine)
    widths: Sequence[int] = ()
    #: indexes of columns kept as text in Excel ("@"): household numbers with a leading 0, phones …
    text_columns: Collection[int] = field(default_factory=tuple)


def local_moment(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored (naive UTC) time as the naive village-local time a spreadsheet shows."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(VILLAGE_TZ).replace(tzinfo=None, microsecond=0)


def _value(value: Any) -> Any:
    """The cell value to write: text made safe, everything else as it is (checked to be a kind we write)."""
    if isinstance(value, bool):
        raise TypeError("a table cell cannot be a bool: write what it means")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(VILLAGE_TZ).replace(tzinfo=None)
    if value is None or isinstance(value, (int, float, Decimal, dt.date)):
        return value
    return excel_safe(str(value))


# --- .xlsx -------------------------------------------------------------------------------------------

def _sheet_name(title: str, taken: set[str]) -> str:
    base = (title.translate(_SHEET_NAME_BAD).strip("' ") or "Sheet")[:_SHEET_NAME_MAX]
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        suffix = f" ({n})"
        name = base[:_SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def write_xlsx(sheets: Iterable[Sheet], out) -> None:
    """Write the sheets as one workbook (write-only mode) to the binary file `out`."""
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    for sheet in sheets:
        ws = wb.create_sheet(_sheet_name(sheet.title, taken))
        for idx, width in enumerate(sheet.widths, start=1):
            ws.column_dimensions[get_column_letter(idx)].width = width
        ws.freeze_panes = "A2"
        header = []
        for name in sheet.header:
            c = WriteOnlyCell(ws, value=_value(name))
            c.font, c.fill = _HEADER_FONT, _HEADER_FILL
            header.append(c)
        ws.append(header)
        text_columns = set(sheet.text_columns)
        for row in sheet.rows:
            cells = []
            for idx, raw in enumerate(row):
                c = WriteOnlyCell(ws, value=_value(raw))
                if isinstance(raw, dt.datetime):
                    c.number_format = DATETIME_FORMAT
                elif isinstance(raw, dt.date):
                    c.number_format = DATE_FORMAT
                elif idx in text_columns:
                    c.number_format = "@"
                cells.append(c)
            ws.append(cells)
    if not taken:  # a workbook needs a sheet
        wb.create_sheet("Sheet")
    wb.save(out)


# --- .csv --------------------------------------------------------------------------------------------

def _csv_text(value: Any) -> str:
    value = _value(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return number_text(value)
    return str(value)


def write_csv(sheets: Iterable[Sheet], out) -> None:
    """Write the sheets as UTF-8 CSV with a byte-order mark to the binary file `out`: one table as it is;
    several one after another, each after a line with its title, a blank line between them."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    sheets = list(sheets)
    for n, sheet in enumerate(sheets):
        if len(sheets) > 1:
            if n:
                writer.writerow([])
            writer.writerow([_csv_text(sheet.title)])
        writer.writerow([_csv_text(h) for h in sheet.header])
        for row in sheet.rows:
            writer.writerow([_csv_text(v) for v in row])
    text.flush()
    text.detach()  # leave `out` open for the caller


# --- the download ------------------------------------------------------------------------------------

def table_file(sheets: Iterable[Sheet], fmt: str):
    """The table written in `fmt` (xlsx or csv) to a rewound temporary file (in memory while small)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}")
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    try:
        (write_xlsx if fmt == "xlsx" else write_csv)(sheets, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def table_bytes(sheets: Iterable[Sheet], fmt: str) -> bytes:
    """The table written in `fmt` as bytes (for the command line and tests)."""
    with table_file(sheets, fmt) as fh:
        return fh.read()


def table_response(sheets: Iterable[Sheet], fmt: str, download_name: str, *, ascii_name: str) -> Response:
    """Send the table as a .xlsx or .csv download named `download_name` (Chinese is fine; the extension is
    added), `ascii_name` for clients that cannot read the UTF-8 name. The file is written before the
    response starts, so a failure is an error page, never half a file."""
    fh = table_file(sheets, fmt)
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    if size <= _SPOOL_BYTES:  # still in memory: send the bytes, nothing left open
        with fh:
            body: Any = fh.read()
    else:  # on disk: streamed, and closed with the response
        body = FileWrapper(fh)
    resp = download_response(body, download_name, mimetype=FORMATS[fmt], ext=fmt, ascii_name=ascii_name)
    resp.content_length = size
    return resp
