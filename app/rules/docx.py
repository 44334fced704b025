"""Read the text of a Word .docx rule document, with Word's automatic numbering written out.

A .docx is a zip of XML parts. Paragraph text comes from word/document.xml; numbering that Word draws
itself (第一条, 一、, 1., ① typed by the numbering feature rather than by hand) lives in
word/numbering.xml and is reproduced here so the parser sees "第一条　…" as the clerk sees it in Word.
Only the standard library and defusedxml (entity-expansion safe) are used; sizes are bounded so a
crafted zip cannot exhaust memory.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from defusedxml import ElementTree as ET

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
#: the most uncompressed bytes any one part may have
MAX_PART = 20 * 1024 * 1024


class DocxError(ValueError):
    """The file is not a readable .docx."""


_CN = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 105 → 一百零五 (as Word's chineseCounting writes them)."""
    if n <= 0 or n >= 10000:
        return str(n)
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            if zero and out:
                out += "零"
            zero = False
            out += ("" if (unit == "十" and digit == 1 and not out) else _CN[digit]) + unit
        elif out:
            zero = True
    return out


def _roman(n: int) -> str:
    vals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
            (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while n >= v:
            out, n = out + s, n - v
    return out


def format_number(n: int, fmt: str) -> str:
    """A counter in one of Word's number formats (w:numFmt)."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "chineseLegalSimplified"):
        return chinese_number(n)
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalFullWidth":
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return "甲乙丙丁戊己庚辛壬癸"[n - 1]
    if fmt in ("upperLetter", "lowerLetter"):
        s = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return s if fmt == "upperLetter" else s.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    if fmt in ("none",):
        return ""
    return str(n)


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    suffix: str = "tab"


@dataclass
class _Numbering:
    #: abstractNumId → ilvl → level
    abstract: dict[str, dict[int, _Level]] = field(default_factory=dict)
    #: numId → (abstractNumId, {ilvl: start override})
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)
    #: counters per abstract numbering (lists sharing one abstract continue each other, as in Word)
    counters: dict[str, dict[int, int]] = field(default_factory=dict)

    def label(self, num_id: str, ilvl: int) -> str:
        if num_id not in self.nums:
            return ""
        abstract_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract_id, {})
        if ilvl not in levels:
            return ""
        counters = self.counters.setdefault(abstract_id, {})
        level = levels[ilvl]
        if ilvl in counters:
            counters[ilvl] += 1
        else:
            counters[ilvl] = overrides.get(ilvl, level.start)
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]  # a new item restarts the levels below it

        def sub(m: re.Match) -> str:
            lvl = int(m.group(1)) - 1
            if lvl not in counters:
                counters[lvl] = levels.get(lvl, _Level()).start
            return format_number(counters[lvl], levels.get(lvl, _Level()).fmt)

        text = re.sub(r"%([1-9])", sub, level.text)
        if level.fmt == "bullet":
            return ""  # bullets carry no number worth keeping
        return text + {"tab": "　", "space": " "}.get(level.suffix, "")


def _read_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART:
        raise DocxError("part too large")
    with zf.open(info) as f:
        data = f.read(MAX_PART + 1)
    if len(data) > MAX_PART:
        raise DocxError("part too large")
    return data


def _parse_numbering(data: bytes | None) -> _Numbering:
    numbering = _Numbering()
    if not data:
        return numbering
    root = ET.fromstring(data)
    for an in root.findall(f"{W}abstractNum"):
        levels: dict[int, _Level] = {}
        for lvl in an.findall(f"{W}lvl"):
            level = _Level()
            start = lvl.find(f"{W}start")
            if start is not None and (start.get(f"{W}val") or "").isdigit():
                level.start = int(start.get(f"{W}val"))
            fmt = lvl.find(f"{W}numFmt")
            if fmt is not None:
                level.fmt = fmt.get(f"{W}val") or "decimal"
            text = lvl.find(f"{W}lvlText")
            if text is not None:
                level.text = text.get(f"{W}val") or ""
            suff = lvl.find(f"{W}suff")
            if suff is not None:
                level.suffix = suff.get(f"{W}val") or "tab"
            ilvl = lvl.get(f"{W}ilvl") or "0"
            if ilvl.isdigit():
                levels[int(ilvl)] = level
        numbering.abstract[an.get(f"{W}abstractNumId") or ""] = levels
    for num in root.findall(f"{W}num"):
        ref = num.find(f"{W}abstractNumId")
        overrides: dict[int, int] = {}
        for ov in num.findall(f"{W}lvlOverride"):
            so = ov.find(f"{W}startOverride")
            ilvl = ov.get(f"{W}ilvl") or ""
            if so is not None and ilvl.isdigit() and (so.get(f"{W}val") or "").isdigit():
                overrides[int(ilvl)] = int(so.get(f"{W}val"))
        if ref is not None:
            numbering.nums[num.get(f"{W}numId") or ""] = (ref.get(f"{W}val") or "", overrides)
    return numbering


def _style_numbering(data: bytes | None) -> dict[str, tuple[str, int]]:
    """Paragraph styles that carry numbering (a "条款" style numbered 第%1条, say)."""
    out: dict[str, tuple[str, int]] = {}
    if not data:
        return out
    root = ET.fromstring(data)
    for style in root.findall(f"{W}style"):
        num_pr = style.find(f"{W}pPr/{W}numPr")
        if num_pr is None:
            continue
        num_id = num_pr.find(f"{W}numId")
        ilvl = num_pr.find(f"{W}ilvl")
        if num_id is not None:
            level = ilvl.get(f"{W}val") if ilvl is not None else "0"
            out[style.get(f"{W}styleId") or ""] = (num_id.get(f"{W}val") or "", int(level) if level.isdigit() else 0)
    return out


def docx_text(data: bytes) -> str:
    """The document's paragraphs as lines of text, Word's automatic numbering included.

    :raise DocxError: not a zip, no word/document.xml, broken XML or a part too large.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise DocxError("not a .docx file") from None
    try:
        with zf:
            document = _read_part(zf, "word/document.xml")
            if document is None:
                raise DocxError("no word/document.xml")
            numbering = _parse_numbering(_read_part(zf, "word/numbering.xml"))
            styles = _style_numbering(_read_part(zf, "word/styles.xml"))
            root = ET.fromstring(document)
    except (ET.ParseError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError) as e:
        raise DocxError(f"unreadable .docx: {type(e).__name__}") from None
    except Exception as e:  # defusedxml refuses entity tricks with its own exceptions
        if type(e).__module__.startswith("defusedxml"):
            raise DocxError("unsafe XML in the .docx") from None
        raise
    body = root.find(f"{W}body")
    if body is None:
        raise DocxError("no document body")
    lines: list[str] = []
    for p in body.iter(f"{W}p"):
        label = ""
        ppr = p.find(f"{W}pPr")
        num_id, ilvl = None, 0
        if ppr is not None:
            num_pr = ppr.find(f"{W}numPr")
            style = ppr.find(f"{W}pStyle")
            if num_pr is not None and num_pr.find(f"{W}numId") is not None:
                num_id = num_pr.find(f"{W}numId").get(f"{W}val")
                lvl = num_pr.find(f"{W}ilvl")
                ilvl = int(lvl.get(f"{W}val")) if lvl is not None and (lvl.get(f"{W}val") or "").isdigit() else 0
            elif style is not None and style.get(f"{W}val") in styles:
                num_id, ilvl = styles[style.get(f"{W}val")]
        if num_id and num_id != "0":
            label = numbering.label(num_id, ilvl)
        parts: list[str] = []
        for node in p.iter():
            if node.tag == f"{W}t":
                parts.append(node.text or "")
            elif node.tag == f"{W}tab":
                parts.append("\t")
            elif node.tag in (f"{W}br", f"{W}cr"):
                parts.append("\n")
        lines.append(label + "".join(parts))
    return "\n".join(lines)
