"""Word .docx import: paragraph text and Word's automatic numbering (第%1条, （%2）) written out."""
from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.rules.docx import DocxError, chinese_number, docx_text
from app.rules.models import RuleVersion
from app.rules.parser import parse_rules

NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def para(text: str, num: tuple[int, int] | None = None, style: str | None = None) -> str:
    ppr = ""
    if num or style:
        ppr = "<w:pPr>" + (f'<w:pStyle w:val="{style}"/>' if style else "") + (
            f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>' if num else "") + "</w:pPr>"
    runs = "".join(f'<w:r><w:t xml:space="preserve">{t}</w:t></w:r>' for t in text.split("|"))
    return f"<w:p>{ppr}{runs}</w:p>"


NUMBERING = f"""<?xml version="1.0" encoding="UTF-8"?>
<w:numbering {NS}>
 <w:abstractNum w:abstractNumId="0">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1条"/><w:suff w:val="space"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/><w:suff w:val="nothing"/></w:lvl>
 </w:abstractNum>
 <w:abstractNum w:abstractNumId="1">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1章"/><w:suff w:val="space"/></w:lvl>
 </w:abstractNum>
 <w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
 <w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>
</w:numbering>"""

STYLES = f"""<?xml version="1.0" encoding="UTF-8"?>
<w:styles {NS}><w:style w:type="paragraph" w:styleId="Chapter"><w:pPr><w:numPr><w:numId w:val="2"/></w:numPr></w:pPr></w:style></w:styles>"""


def make_docx(paragraphs: list[str], numbering: str | None = NUMBERING, styles: str | None = STYLES) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {NS}><w:body>'
                   + "".join(paragraphs) + "</w:body></w:document>")
        if numbering:
            z.writestr("word/numbering.xml", numbering)
        if styles:
            z.writestr("word/styles.xml", styles)
    return buf.getvalue()


RULES_DOCX = [
    para("青山村村规民约"),
    para("为了维护本村秩序，制定本规约。"),
    para("总则", style="Chapter"),
    para("本规约适用于本村全体|村民。", num=(1, 0)),
    para("有下列行为之一的，予以批评教育：", num=(1, 0)),
    para("赌博的；", num=(1, 1)),
    para("打架斗殴的。", num=(1, 1)),
    para("附则", style="Chapter"),
    para("违反本规约第二条规定的，依法处理。", num=(1, 0)),
    para("二〇二四年三月十五日"),
]


def test_word_numbering_is_written_out():
    text = docx_text(make_docx(RULES_DOCX))
    assert text.split("\n") == [
        "青山村村规民约", "为了维护本村秩序，制定本规约。", "第一章 总则", "第一条 本规约适用于本村全体村民。",
        "第二条 有下列行为之一的，予以批评教育：", "（一）赌博的；", "（二）打架斗殴的。", "第二章 附则",
        "第三条 违反本规约第二条规定的，依法处理。", "二〇二四年三月十五日"]
    parsed = parse_rules(text)
    assert [(c.label, c.title) for c in parsed.chapters] == [("第一章", "总则"), ("第二章", "附则")]
    assert [a.label for a in parsed.articles] == ["第一条", "第二条", "第三条"]
    assert parsed.articles[1].text == "有下列行为之一的，予以批评教育：\n（一）赌博的；\n（二）打架斗殴的。"
    assert parsed.closing == "二〇二四年三月十五日"


def test_docx_without_numbering_part():
    text = docx_text(make_docx([para("第一条　手打的编号。"), para("第二条　也是。")], numbering=None, styles=None))
    assert [a.text for a in parse_rules(text).articles] == ["手打的编号。", "也是。"]


@pytest.mark.parametrize("data", [b"not a zip", make_docx([]).replace(b"word/document.xml", b"word/other___.xml")])
def test_broken_docx_is_refused(data):
    with pytest.raises(DocxError):
        docx_text(data)


def test_entity_expansion_is_refused():
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            f'<w:document {NS}><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", bomb)
    with pytest.raises(DocxError):
        docx_text(buf.getvalue())


@pytest.mark.parametrize("n, cn", [(1, "一"), (10, "十"), (12, "十二"), (20, "二十"), (105, "一百零五"),
                                   (110, "一百一十"), (1001, "一千零一")])
def test_chinese_counting(n, cn):
    assert chinese_number(n) == cn


def test_upload_a_docx_previews_then_saves(clerk_client):
    data = {"ruleset_id": "0", "kind": "village_rules", "title": "", "text": "", "preview": "1",
            "file": (io.BytesIO(make_docx(RULES_DOCX)), "村规民约.docx")}
    r = clerk_client.post("/rules/import", data=data, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "第二章 附则" in page and "第三条" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleVersion)) == 0
    # the extracted text is now in the text box: saving it stores that text
    r = clerk_client.post("/rules/import", data={"ruleset_id": "0", "kind": "village_rules", "title": "",
                                                 "text": docx_text(make_docx(RULES_DOCX)), "submit": "1"},
                          content_type="multipart/form-data")
    assert r.status_code == 302
    v = db.session.scalar(sa.select(RuleVersion))
    assert len(v.articles) == 3 and v.ruleset.title == "青山村村规民约"


def test_cli_reads_docx(runner, village, tmp_path):
    path = tmp_path / "规约.docx"
    path.write_bytes(make_docx(RULES_DOCX))
    r = runner.invoke(args=["rules", "import", str(path), "--village", "v1", "--kind", "village_rules", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "第一章 总则: 2 articles" in r.output and "articles: 3" in r.output
    path.write_bytes(b"PK\x03\x04broken")
    r = runner.invoke(args=["rules", "import", str(path), "--village", "v1", "--kind", "village_rules"])
    assert r.exit_code != 0
