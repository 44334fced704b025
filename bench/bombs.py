"""Workbook bombs (issue 13: 929 KB that expanded to 185 MB took 22 s and 600 MB per worker): small .xlsx
uploads whose parts expand to far more than a village's workbook.

Figure 9 (bench/figures.py) times their refusal by the running server; tests/test_tabular.py checks that the
same files are refused with a message after bounded work (bytes inflated, memory, no parse), not by the clock.
"""
from __future__ import annotations

import io
import zipfile

#: what each bomb's part really expands to
BOMB_BYTES = 185 * 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
#: what the lying archive's central directory claims the sheet holds
LYING_DECLARED_BYTES = 2 * 1024 * 1024
ROW = b'<row><c t="inlineStr"><is><t>\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0</t></is></c></row>'
SI = b"<si><t>\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0</t></si>"
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><sheetData>')
SHEET_FOOT = b"</sheetData></worksheet>"
SST_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main">')
SST_FOOT = b"</sst>"


def small_workbook() -> bytes:
    """A real two-row register workbook (header and one person), as openpyxl saves it."""
    from openpyxl import Workbook

    wb = Workbook()
    for row in (["户号", "姓名"], ["0101", "张三丰"]):
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def bomb(part: str, head: bytes, repeat: bytes, foot: bytes, size: int = BOMB_BYTES) -> bytes:
    """A real workbook whose `part` is replaced by ~`size` bytes of one repeated element (honest zip
    headers)."""
    base = zipfile.ZipFile(io.BytesIO(small_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for info in base.infolist():
            if info.filename != part:
                zf.writestr(info.filename, base.read(info.filename))
        with zf.open(part, "w") as fh:
            fh.write(head)
            block = repeat * ((1 << 20) // len(repeat))
            for _ in range(max(1, size // len(block))):
                fh.write(block)
            fh.write(foot)
    return out.getvalue()


def lying(data: bytes, part: str, declared: int) -> bytes:
    """The same archive, its central directory claiming `part` holds only `declared` bytes."""
    buf = bytearray(data)
    name = part.encode()
    at = -1
    while True:  # the central directory records: signature, …, uncompressed size at +24, name at +46
        at = buf.index(b"PK\x01\x02", at + 1)
        name_len = int.from_bytes(buf[at + 28:at + 30], "little")
        if bytes(buf[at + 46:at + 46 + name_len]) == name:
            buf[at + 24:at + 28] = declared.to_bytes(4, "little")
            return bytes(buf)


def workbook_bombs() -> dict[str, bytes]:
    """The three bombs by kind: a huge sheet, huge shared strings, and a huge sheet whose archive declares
    it small (LYING_DECLARED_BYTES); each is under 2 MB on the wire."""
    sheet = bomb(SHEET, SHEET_HEAD, ROW, SHEET_FOOT)
    strings = bomb(SHARED_STRINGS, SST_HEAD, SI, SST_FOOT)
    return {"sheet": sheet, "shared strings": strings,
            "sheet, lying headers": lying(sheet, SHEET, LYING_DECLARED_BYTES)}


#: the words of the Chinese message each bomb is refused with (files.MSG_TOO_BIG_INSIDE, files.MSG_UNREADABLE)
REFUSAL_TEXT = {"sheet": "工作簿太大，无法检查。", "shared strings": "工作簿太大，无法检查。",
                "sheet, lying headers": "无法读取这个 Excel 文件"}
