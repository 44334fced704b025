"""Reading an uploaded table: which kind it is (.xlsx, .csv, pasted text), and its rows, within limits.

The limits guard against hostile files (docs/architecture.md, "Input and files"): an .xlsx is a zip archive, so a
small upload can claim gigabytes inside (a zip bomb) or thousands of parts; a sheet's stored size
can lie. Every importer opens workbooks here, so each limit is written once.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from typing import Any, Iterator

from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

from .cells import N_

# --- limits against hostile files (docs/architecture.md, "Input and files") --------------------------

# What a village's workbook expands to: a register of 10 000 people in 30 columns is a sheet of about
# 15 MB and a few MB of shared strings. Parsing is slow (about 8 MB/s) and openpyxl keeps every shared
# string in memory, so a bomb (929 KB → 185 MB took 22 s and 600 MB per worker) is refused on these
# figures before any parsing, in milliseconds.
MAX_ZIP_ENTRIES = 2000
#: all parts together, as stored (declared) and as actually decompressed
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024
#: one worksheet (xl/worksheets/sheetN.xml)
MAX_SHEET_BYTES = 24 * 1024 * 1024
#: the shared strings part (xl/sharedStrings.xml), held in memory whole by openpyxl
MAX_SHARED_STRINGS_BYTES = 8 * 1024 * 1024
#: distinct strings in it
MAX_SHARED_STRINGS = 200_000
#: any other part (styles, workbook, relationships …)
MAX_OTHER_PART_BYTES = 4 * 1024 * 1024
#: columns of a row read at most
MAX_COLUMNS = 64
#: the header row is looked for in this many rows at the top (a title row above it is common)
HEADER_SEARCH_ROWS = 10
#: rows of a sheet read at most (blank ones included), whatever its stored size claims
MAX_SCANNED_ROWS = 100_000
#: a .csv / .txt file or pasted text larger than this is not read
MAX_TEXT_BYTES = 20 * 1024 * 1024
#: an uploaded file (.xlsx, .csv, .txt) larger than this is not read at all (`read_upload`): the request may
#: be larger (MAX_CONTENT_LENGTH, sized for phone photos), a table may not
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: the kinds of input: an Excel workbook, a CSV file, pasted lines (cells split by tab or |)
KINDS = ("xlsx", "csv", "text")

MSG_NOT_XLSX = N_("This file is not an Excel workbook (.xlsx). Open it in Excel or WPS, choose "
                  "'Save as' → 'Excel Workbook (*.xlsx)', and upload the saved file.")
MSG_XLS = N_("This is an old Excel 97–2003 file (.xls) or a password-protected workbook, which cannot be "
             "read. Open it in Excel or WPS, remove any password, save it as 'Excel Workbook (*.xlsx)' "
             "and upload that file.")
MSG_UNREADABLE = N_("The Excel file could not be read; it may be damaged. Open it in Excel or WPS, save it "
                    "again as .xlsx and upload it again.")
MSG_TOO_BIG_INSIDE = N_("The workbook is too large to check. Split the register into several files.")
MSG_NOT_TEXT = N_("The file could not be read as text. Open it in Excel or WPS, save it as 'CSV UTF-8' "
                  "(or as an .xlsx workbook) and choose the saved file.")
MSG_FILE_TOO_BIG = N_("The file is too large: at most %(mb)s MB can be uploaded. Split it into several files "
                     "and import them one after another.")
MSG_FILE_TYPE = N_("Choose an Excel workbook (.xlsx), a CSV file (.csv) or a text file (.txt).")


class ImportFileError(ValueError):
    """The input cannot be read at all (not a workbook, damaged, too large); the message says what to do."""


# --- reading an upload -----------------------------------------------------------------------------

def read_upload(storage, *, too_big: str | None = None) -> bytes:
    """The bytes of an uploaded file (a FileStorage), reading no more than MAX_UPLOAD_BYTES.

    :raise ImportFileError: the file is larger (message `too_big`, else MSG_FILE_TOO_BIG).
    """
    data = storage.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(too_big or _l(MSG_FILE_TOO_BIG, mb=MAX_UPLOAD_BYTES // (1024 * 1024)))
    return data


# --- which kind -------------------------------------------------------------------------------------

def kind_for_filename(filename: str | None) -> str | None:
    """xlsx, csv or text by the file name's extension; None for anything else."""
    name = (filename or "").lower().rsplit(".", 1)
    ext = name[1] if len(name) == 2 else ""
    return {"xlsx": "xlsx", "csv": "csv", "txt": "text", "tsv": "text"}.get(ext)


def sniff(data: bytes | str, kind: str) -> str:
    """The kind the input really is: the content decides between a workbook and text, not its name.

    :raise ImportFileError: an old .xls / encrypted workbook, text where a workbook was required, or an
        unknown kind.
    """
    if kind not in KINDS:
        raise ImportFileError(_l(MSG_FILE_TYPE))
    if isinstance(data, bytes):
        if data[:8] == OLE2_MAGIC:
            raise ImportFileError(_l(MSG_XLS))
        if data[:4] == XLSX_MAGIC:
            return "xlsx"  # a workbook saved under another name is still a workbook
        if kind == "xlsx":
            raise ImportFileError(_l(MSG_NOT_XLSX))
    elif kind == "xlsx":
        raise ImportFileError(_l(MSG_FILE_TYPE))
    return kind


# --- workbooks --------------------------------------------------------------------------------------

def open_workbook(data: bytes, *, too_big: str = MSG_TOO_BIG_INSIDE):
    """Open the bytes as a read-only workbook after cheap checks against non-xlsx files and zip bombs.

    Formula cells come back as their text (data_only=False), never evaluated. The caller closes it.
    """
    if data[:8] == OLE2_MAGIC:
        raise ImportFileError(_l(MSG_XLS))
    if data[:4] != XLSX_MAGIC:
        raise ImportFileError(_l(MSG_NOT_XLSX))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise ImportFileError(_l(MSG_NOT_XLSX)) from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ImportFileError(_l(MSG_NOT_XLSX))
    if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES \
            or any(i.file_size > _part_limit(i.filename) for i in infos):
        raise ImportFileError(_l(too_big))
    _measure_parts(data, infos, too_big)
    try:
        # data_only=False: a formula cell comes back as its text, so "=1+2" is kept literally
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception:  # openpyxl raises many types for malformed parts; all mean "cannot read"
        raise ImportFileError(_l(MSG_UNREADABLE)) from None


def _part_limit(name: str) -> int:
    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
        return MAX_SHEET_BYTES
    if name == "xl/sharedStrings.xml":
        return MAX_SHARED_STRINGS_BYTES
    return MAX_OTHER_PART_BYTES


# a shared string item (<si>, or <x:si> with a prefix)
_SI_RE = re.compile(rb"<(?:\w{1,16}:)?si[\s>/]")
_CHUNK = 1 << 20


def _measure_parts(data: bytes, infos: list[zipfile.ZipInfo], too_big: str) -> None:
    """Decompress every part once, in chunks, and refuse the workbook as soon as a part grows past its
    limit or holds too many shared strings. (A sheet's <dimension> is not trusted either way: some
    programs write a wrong one; rows are bounded while reading, MAX_SCANNED_ROWS, columns by MAX_COLUMNS.)

    The sizes checked before are what the archive declares, which a hostile file can lie about; zipfile
    stops at the declared size and the CRC then fails, so what openpyxl is given is what is counted
    here. A damaged part is found here too, before the slow parse.
    """
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in infos:
                if info.is_dir():
                    continue
                limit, size, strings, tail = _part_limit(info.filename), 0, 0, b""
                shared = info.filename == "xl/sharedStrings.xml"
                with zf.open(info) as part:
                    while chunk := part.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > limit or total > MAX_UNCOMPRESSED_BYTES:
                            raise ImportFileError(_l(too_big))
                        if shared:
                            # count items across chunk borders: a match starting in the carried tail was
                            # not counted in the chunk before, which stopped counting 32 bytes short
                            buf = tail + chunk
                            counted = len(buf) - 32
                            strings += sum(1 for m in _SI_RE.finditer(buf) if m.start() < counted)
                            tail = buf[-32:]
                            if strings > MAX_SHARED_STRINGS:
                                raise ImportFileError(_l(too_big))
                    if shared and strings + len(_SI_RE.findall(tail)) > MAX_SHARED_STRINGS:
                        raise ImportFileError(_l(too_big))
    except ImportFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError,
            RuntimeError, zlib.error):
        raise ImportFileError(_l(MSG_UNREADABLE)) from None


def sheet_rows(ws: Any, min_row: int, max_row: int | None, max_col: int = MAX_COLUMNS) -> Iterator[tuple]:
    """Rows of cells, turning any parse error of a damaged sheet into ImportFileError."""
    it = ws.iter_rows(min_row=min_row, max_row=max_row, max_col=max_col)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except Exception:
            raise ImportFileError(_l(MSG_UNREADABLE)) from None
        yield row


#: merged ranges of a sheet read at most (a real annex has a few hundred)
MAX_MERGED_RANGES = 20_000
_MERGE_RE = re.compile(rb"<(?:\w{1,16}:)?mergeCell\s[^>]*?"
                       rb"ref=\"([A-Z]{1,3}[0-9]{1,7}(?::[A-Z]{1,3}[0-9]{1,7})?)\"")


def merged_ranges(ws: Any) -> list[tuple[int, int, int, int]]:
    """The merged ranges of a read-only worksheet as (min_row, min_col, max_row, max_col), 1-based.

    A read-only worksheet does not expose them, so they are read from the sheet's own part, which
    open_workbook has already measured (MAX_SHEET_BYTES); at most MAX_MERGED_RANGES of them.
    """
    from openpyxl.utils.cell import range_boundaries

    path = getattr(ws, "_worksheet_path", None)
    archive = getattr(getattr(ws, "parent", None), "_archive", None)
    if not path or archive is None:
        return []
    try:
        with archive.open(path) as part:
            xml = part.read(MAX_SHEET_BYTES + 1)
    except (KeyError, OSError, zipfile.BadZipFile, zlib.error):
        raise ImportFileError(_l(MSG_UNREADABLE)) from None
    out = []
    for m in _MERGE_RE.finditer(xml):
        ref = m.group(1).decode("ascii")
        min_col, min_row, max_col, max_row = range_boundaries(ref if ":" in ref else f"{ref}:{ref}")
        out.append((min_row, min_col, max_row, max_col))
        if len(out) >= MAX_MERGED_RANGES:
            break
    return out


# --- text: .csv files and pasted lines --------------------------------------------------------------

def decode_text(data: bytes, *, too_big: str) -> str:
    """Text of a .csv / .txt file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030.

    :raise ImportFileError: larger than MAX_TEXT_BYTES (message `too_big`), or not text.
    """
    if len(data) > MAX_TEXT_BYTES:
        raise ImportFileError(_l(too_big))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise ImportFileError(_l(MSG_NOT_TEXT))


def csv_lines(text: str) -> Iterator[tuple[int, list[Any]]]:
    """(line number, cells) of CSV text; empty cells are None. Excel writes commas; some locales and
    "Unicode text" exports write ; or tabs, which the first line tells."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = next((d for d in ("\t", ";") if d in first and "," not in first), ",")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            yield start, [c if c != "" else None for c in cells[:MAX_COLUMNS]]
            start = reader.line_num + 1
    except csv.Error:
        raise ImportFileError(_l(MSG_NOT_TEXT)) from None


CELL_SPLIT_RE = re.compile(r"\t|[|｜]")
#: a line of only these characters (with a dash) is a table rule such as |---|---| and is skipped
SEPARATOR_CHARS = frozenset(" \t\u3000|｜:：-－—=+")


def is_rule(line: str) -> bool:
    """A pasted line that only draws the table (|---|---|)."""
    return set(line) <= SEPARATOR_CHARS and any(c in "-－—=" for c in line)


def split_line(line: str) -> list[str]:
    """The cells of a pasted line: split by tab (copied from Excel or WPS) or |."""
    s = line.strip(" \u3000\r")
    cells = CELL_SPLIT_RE.split(s)
    if len(cells) > 2 and s[:1] in "|｜" and s[-1:] in "|｜":
        cells = cells[1:-1]  # | a | b | (a Markdown-style table)
    return cells


def pasted_lines(text: str) -> Iterator[tuple[int, list[Any]]]:
    """(line number, cells) of pasted text; blank lines and table rules are skipped, empty cells are None."""
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if not line.strip(" \t\u3000") or is_rule(line):
            continue
        yield number, [c if c.strip(" \t\u3000") else None for c in split_line(line)]
