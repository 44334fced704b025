"""The table-import package (app.tabular): what both importers share is done once and the same way.

The register (tests/test_import_export.py) and the scheme items (tests/test_item_import.py) test
their own columns; here: the sniffing and hostile-file limits give both the same answers, a staged
input belongs to one importer and is gone once confirmed, and the one write of a confirmation is
retried on a busy database and refused as a whole.
"""
from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.points import item_import as imp
from app.points import services as pts
from app.points.models import PointItem, PointScheme
from app.registry.import_check import check_workbook
from app.registry.import_format import COLUMNS
from app.registry.models import Household
from app.submission import write_transaction
from app.tabular import ImportFileError, Problem, problem_lines, sniff, write_checked
from app.tabular.files import MAX_ZIP_ENTRIES
from bench.bombs import LYING_DECLARED_BYTES, REFUSAL_TEXT, SHARED_STRINGS, bomb, workbook_bombs
from tests.conftest import FreshContextClient, valid_id

ITEMS = "公益服务\t加分\tA01\t参加村庄清洁日\t2\n不良行为\t扣分\tB01\t乱倒垃圾\t-5\n"


@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


@pytest.fixture
def en(clerk_client):
    clerk_client.get("/lang/en")
    return clerk_client


def workbook(rows: list[list]) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_of(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, b"x")
    return buf.getvalue()


HOSTILE = {
    "old .xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
    "not a zip": b"PK\x03\x04 but nothing after",
    "plain text": "类别,编号\n".encode(),
    "zip, not a workbook": zip_of(["readme.txt"]),
    "zip bomb of parts": zip_of(["[Content_Types].xml"] + [f"xl/p{i}.xml" for i in range(MAX_ZIP_ENTRIES + 1)]),
    "damaged workbook": zip_of(["[Content_Types].xml", "xl/workbook.xml"]),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_both_importers_refuse_a_hostile_workbook_with_the_same_message(app, village, name):
    data = HOSTILE[name]
    with force_locale("en"):
        with pytest.raises(ImportFileError) as register:
            check_workbook(village, data)
        with pytest.raises(ImportFileError) as items:
            imp.check_items(village, data, "xlsx")
    assert str(register.value) == str(items.value) and str(items.value)
    assert db.session.scalar(sa.select(sa.func.count(PointScheme.id))) == 0


def test_the_content_decides_the_kind_not_the_name(app, village):
    book = workbook([["类别", "编号"]])
    assert sniff(book, "csv") == "xlsx" and sniff(book, "text") == "xlsx"
    assert sniff(b"a,b\n", "csv") == "csv" and sniff("a|b", "text") == "text"
    with force_locale("en"):
        for data, kind, message in ((b"a,b", "xlsx", "not an Excel workbook"), ("pasted", "xlsx", "Choose an"),
                                    (b"a,b", "pdf", "Choose an"), (HOSTILE["old .xls"], "csv", "97–2003")):
            with pytest.raises(ImportFileError, match=message):
                sniff(data, kind)
        # a workbook uploaded under a .csv name is read as the workbook it is
        result = imp.check_items(village, workbook([["类别", "加扣", "编号", "内容", "分值"],
                                                    ["公益服务", "加分", "A01", "清洁日", 2]]), "csv")
    assert result.ok and result.add_count == 1


def staged(app) -> list[Path]:
    folder = Path(app.instance_path) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert m, f"no hidden field {name}"
    return m.group(1)


def upload_register(client, data: bytes):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename="户籍.xlsx")})
    return client.post("/registry/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def register_book() -> bytes:
    return workbook([list(COLUMNS), ["001", None, None, None, "张三丰", "户主", None, None, valid_id(1), None]])


def test_a_staged_input_belongs_to_its_importer_and_is_gone_after_confirm(app, en, village):
    items_page = en.post("/points/items/import", data={"text": ITEMS, "submit": "1"}).get_data(as_text=True)
    register_page = upload_register(en, register_book()).get_data(as_text=True)
    assert len(staged(app)) == 4  # two inputs, each with its metadata
    # one report page, each importer's own confirmation, with its Cancel that deletes the staged input
    assert 'action="/points/items/import/confirm"' in items_page and 'id="import-cancel"' in items_page
    assert 'action="/registry/import/confirm"' in register_page and 'id="import-cancel"' in register_page
    items_form = {"token": hidden(items_page, "token"), "digest": hidden(items_page, "digest")}
    register_form = {"token": hidden(register_page, "token"), "digest": hidden(register_page, "digest")}

    # each confirmation refuses the other importer's input: nothing is written, nothing is deleted
    r = en.post("/registry/import/confirm", data=items_form)
    assert r.status_code == 400 and "no longer available" in r.get_data(as_text=True)
    r = en.post("/points/items/import/confirm", data=register_form)
    assert r.status_code == 400 and "no longer available" in r.get_data(as_text=True)
    assert len(staged(app)) == 4

    assert en.post("/points/items/import/confirm", data=items_form).status_code == 302
    assert en.post("/registry/import/confirm", data=register_form).status_code == 302
    assert staged(app) == []  # the checked inputs (the register's holds full ID numbers) are deleted
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PointItem.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 1
    # a second click finds nothing to import
    assert en.post("/points/items/import/confirm", data=items_form).status_code == 400


def test_a_refused_confirmation_also_deletes_the_staged_input(app, en, village):
    page = en.post("/points/items/import", data={"text": ITEMS, "submit": "1"}).get_data(as_text=True)
    with write_transaction():  # someone adds A01 between the check and the confirmation
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "公益服务", "add")
        pts.create_item(cat, pts.ItemData(code="A01", text="抢先录入", points=1))
    r = en.post("/points/items/import/confirm", data={"token": hidden(page, "token"),
                                                      "digest": hidden(page, "digest")})
    assert r.status_code == 200 and "Item code A01 is already in the scheme" in r.get_data(as_text=True)
    assert staged(app) == []
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PointItem.id))) == 1


def test_write_checked_retries_a_busy_database_from_the_check(app, village, monkeypatch):
    checks, applies = [], []

    def check():
        checks.append(1)
        return imp.check_items(village, ITEMS, "text")

    def apply(result):
        applies.append(1)
        summary = imp.apply_items(village, result)
        if len(applies) == 1:  # the first attempt's commit would meet a locked database
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        return summary

    done = write_checked(check, apply, refusals=(pts.PointsError,), changed_meanwhile=imp.MSG_CHANGED_MEANWHILE)
    assert done and done.summary.items == 2 and len(checks) == 2 and len(applies) == 2
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PointItem.id))) == 2  # written once


def test_write_checked_turns_a_refusal_into_a_problem_and_writes_nothing(app, village):
    def apply(result):
        imp.apply_items(village, result)  # scheme, categories and items are flushed by now
        raise pts.PointsError("simulated refusal")

    done = write_checked(lambda: imp.check_items(village, ITEMS, "text"), apply, refusals=(pts.PointsError,),
                         changed_meanwhile=imp.MSG_CHANGED_MEANWHILE)
    assert not done and done.result.problems[-1] == Problem(None, None, "simulated refusal")
    assert problem_lines(done.result.problems) == ["file: simulated refusal"]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PointScheme.id))) == 0


# --- workbook bombs (issue 13: 929 KB that expands to 185 MB took 22 s and 600 MB per worker) ---
# How fast the server answers them is figure 9 of the benchmark (bench/figures.py, `make bench`); here the
# work done before the refusal is counted, which no load on the machine changes.

#: bytes inflated before a bomb is refused: the small parts and at most what a lying header declares
#: (2 MB), never the 185 MB inside nor a part's whole limit (24 MB a sheet, 8 MB the shared strings)
MAX_INFLATED = 4 * 1024 * 1024


class _CountingZlib:
    """zlib as zipfile sees it, counting every byte any zip member's decompressor hands out (the limit
    checks' and openpyxl's reads alike, the last chunk before a failed CRC included)."""

    def __init__(self):
        self.inflated = 0

    def __getattr__(self, name):
        return getattr(zlib, name)

    def decompressobj(self, *args, **kwargs):
        return _CountingDecompressor(self, zlib.decompressobj(*args, **kwargs))


class _CountingDecompressor:
    def __init__(self, counter: _CountingZlib, inner):
        self._counter, self._inner = counter, inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def decompress(self, data, max_length=0):
        out = self._inner.decompress(data, max_length)
        self._counter.inflated += len(out)
        return out

    def flush(self, *args):
        out = self._inner.flush(*args)
        self._counter.inflated += len(out)
        return out


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return workbook_bombs()


def _upload(client, url: str, data: bytes):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename="户籍.xlsx"), "submit": "1"})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("url", ["/registry/import", "/points/items/import"])
@pytest.mark.parametrize("kind", ["sheet", "shared strings", "sheet, lying headers"])
def test_a_workbook_bomb_is_refused_with_a_message_after_bounded_work(clerk_client, bombs, url, kind,
                                                                     monkeypatch):
    import tracemalloc

    from app.tabular import files

    data = bombs[kind]
    assert len(data) < 2 * 1024 * 1024  # small on the wire …
    counting = _CountingZlib()
    monkeypatch.setattr(zipfile, "zlib", counting)
    parsed = []
    real_load = files.load_workbook
    monkeypatch.setattr(files, "load_workbook", lambda *a, **kw: parsed.append(a) or real_load(*a, **kw))
    tracemalloc.start()
    try:
        r = _upload(clerk_client, url, data)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 400
    assert REFUSAL_TEXT[kind] in r.get_data(as_text=True)
    # … and refused on what the archive declares and a bounded count of what it holds, before any parsing
    assert parsed == []
    assert counting.inflated <= MAX_INFLATED, counting.inflated
    if "lying" in kind:  # the lie is found by inflating what the header declares, and no further
        assert LYING_DECLARED_BYTES <= counting.inflated, counting.inflated
    assert peak < 50 * 1024 * 1024, peak
    assert staged(clerk_client.application) == []
    for model in (Household, PointScheme, PointItem):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0


def test_too_many_shared_strings_are_refused_though_small(app):
    """4 MB of tiny strings stays under the byte limit; 240 000 of them are more than a village writes."""
    from app.tabular.files import MAX_SHARED_STRINGS, open_workbook

    data = bomb(SHARED_STRINGS, b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main">', b"<si><t>a</t></si>", b"</sst>", size=4 * 1024 * 1024)
    assert 4 * 1024 * 1024 // 17 > MAX_SHARED_STRINGS
    with force_locale("en"), pytest.raises(ImportFileError, match="too large"):
        open_workbook(data)
