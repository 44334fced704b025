"""The rules on paper: the A5 booklet (padded to whole sheets), the same booklet imposed on A4 for an office
printer, the A4 notice for the board (公开栏) and the digest poster (要点).

Every PDF is rendered by app.printing; the imposition only moves finished A5 pages onto A4 sheets with pypdf
(no re-layout), so the imposed booklet is the A5 booklet, page for page.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

from ..extensions import db
from ..printing import render_pdf, render_pdf_first_fit, render_pdf_in_sheets
from ..registry.models import Village
from .models import RuleVersion, StepKind

#: a saddle-stitched booklet is folded sheets: 4 pages each (2 A5 pages a side)
PAGES_PER_SHEET = 4
#: landscape A4 in points (297 × 210 mm)
A4_LANDSCAPE = (841.89, 595.28)
#: a text longer than this (characters) cannot fit one A4 page at the notice's large size: medium at once
NOTICE_LARGE_LIMIT = 1800
#: from this many points on, the digest is a grid of numbered cards rather than a list of lines
CARDS_FROM = 20


def _village(v: RuleVersion) -> Village:
    return db.session.get(Village, v.village_id)


def booklet_pdf(v: RuleVersion) -> bytes:
    """Render a version's A5 booklet, its page count padded with blank pages to a multiple of 4.

    The blank pages (此页无正文) are laid out with the text (app.printing.render_pdf_in_sheets), so each
    footer's 共 y 页 counts them: a second layout, only when pages are missing.
    """
    return render_pdf_in_sheets("rules_booklet.html", PAGES_PER_SHEET, v=v, village=_village(v), paper="a5",
                                assembly=v.step(StepKind.ASSEMBLY), filing=v.step(StepKind.FILING),
                                toc=toc_entries(v))


def notice_pdf(v: RuleVersion) -> bytes:
    """Render a version as the A4 notice for the board: title, adoption line, two columns, committee and date.

    The articles print at the large size (14 pt) when they fit one page, else at the medium size (12 pt), which
    is still read from a metre away; a long text then runs over several sheets rather than shrinking further.
    """
    length = len(v.preamble or "") + sum(len(a.text) + len(a.label) for a in v.articles)
    sizes = [{"size": "large"}, {"size": "medium"}] if length <= NOTICE_LARGE_LIMIT else [{"size": "medium"}]
    return render_pdf_first_fit("rules_notice.html", sizes, 1, v=v, village=_village(v), paper="notice",
                                assembly=v.step(StepKind.ASSEMBLY), notice_date=v.published_on or v.adopted_on)


def imposed_booklet_pdf(v: RuleVersion) -> bytes:
    """Render the A5 booklet and impose it 2-up on landscape A4 in saddle-stitch order (print both sides)."""
    return impose_saddle_stitch(booklet_pdf(v))


# --- contents ------------------------------------------------------------------------------------------

#: characters of a contents entry that fit one A5 line beside the leader and a three-digit page number
#: (10 pt CJK: about 34 characters on the 124 mm measure; sections are indented by 2)
TOC_WIDTH = {1: 26, 2: 24}


@dataclass(frozen=True)
class TocEntry:
    anchor: str
    text: str
    level: int


def _fit(text: str, width: int) -> str:
    """Shorten a contents entry to `width` characters (a Latin letter counts half), ending in an ellipsis."""
    used, out = 0.0, []
    for ch in text:
        w = 0.5 if ord(ch) < 0x2E80 else 1.0
        if used + w > width - 1:
            return "".join(out).rstrip() + "…"
        out.append(ch)
        used += w
    return text


def toc_entries(v: RuleVersion) -> list[TocEntry]:
    """The booklet's contents: chapters (or the articles of a short list), each shortened to fit one line."""
    entries: list[TocEntry] = []
    if v.chapters:
        for c in v.chapters:
            entries.append(TocEntry(f"c{c.id}", _fit(c.heading, TOC_WIDTH[c.level]), c.level))
    elif v.articles and len(v.articles) <= 60:
        for a in v.articles:
            entries.append(TocEntry(f"a{a.id}", _fit(f"{a.label}{a.text.splitlines()[0] if a.text else ''}",
                                                      min(20, TOC_WIDTH[1])), 1))
    return entries


# --- imposition ----------------------------------------------------------------------------------------

def saddle_order(pages: int) -> list[tuple[int, int]]:
    """The (left, right) page numbers (1-based, 0 = blank) of each A4 side of a saddle-stitched booklet.

    Sides come in print order: sheet 1 front, sheet 1 back, sheet 2 front … Folded and nested, the sheets read
    1, 2, 3 … For 8 pages: (8, 1), (2, 7), (6, 3), (4, 5).
    """
    n = math.ceil(pages / PAGES_PER_SHEET) * PAGES_PER_SHEET
    sides = []
    for s in range(n // PAGES_PER_SHEET):
        front = (n - 2 * s, 2 * s + 1)
        back = (2 * s + 2, n - 2 * s - 1)
        sides += [front, back]
    return [(a if a <= pages else 0, b if b <= pages else 0) for a, b in sides]


def _marks_stream(width: float, height: float, staple: bool) -> bytes:
    """PDF drawing operators for the fold line ticks (and, on the outer side, the two staple marks)."""
    mm = 72 / 25.4
    x = width / 2
    ops = ["q", "0.4 G", "0.5 w", "[3 2] 0 d",
           # fold: dashed ticks in the top and bottom margins, on the centre line
           f"{x:.2f} {height:.2f} m {x:.2f} {height - 9 * mm:.2f} l S",
           f"{x:.2f} 0 m {x:.2f} {9 * mm:.2f} l S"]
    if staple:
        # staples: two short solid bars across the fold, a quarter of the way in from top and bottom
        ops += ["[] 0 d", "0 G", "1 w"]
        for y in (height / 4, height * 3 / 4):
            ops.append(f"{x - 3 * mm:.2f} {y:.2f} m {x + 3 * mm:.2f} {y:.2f} l S")
    ops.append("Q")
    return "\n".join(ops).encode()


def impose_saddle_stitch(pdf: bytes) -> bytes:
    """Put the A5 pages of `pdf` two to a landscape A4 side, in saddle-stitch order, with fold and staple marks.

    Print the result on both sides, flipping on the short edge; fold the pile in the middle and staple on the
    fold. Page counts that are not a multiple of 4 get blank pages at the end.
    """
    from pypdf import PageObject, PdfReader, PdfWriter, Transformation
    from pypdf.generic import DecodedStreamObject

    reader = PdfReader(io.BytesIO(pdf))
    pages = list(reader.pages)
    a5_w = float(pages[0].mediabox.width)
    # an A4 sheet is 297 mm, two A5 pages 296: the pages meet at the fold, half a millimetre spare outside
    width, height = A4_LANDSCAPE
    fold = width / 2
    writer = PdfWriter()
    for i, (left, right) in enumerate(saddle_order(len(pages))):
        side = PageObject.create_blank_page(width=width, height=height)
        for number, dx in ((left, fold - a5_w), (right, fold)):
            if number:
                side.merge_transformed_page(pages[number - 1], Transformation().translate(tx=dx, ty=0))
        marks = DecodedStreamObject()
        marks.set_data(_marks_stream(width, height, staple=(i == 0)))
        side.merge_page(_stream_page(marks, width, height))
        writer.add_page(side)
    writer.add_metadata({"/Title": (reader.metadata or {}).get("/Title", "") or ""})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _stream_page(stream, width: float, height: float):
    """A blank page of the given size whose content is `stream` (to merge over a side)."""
    from pypdf import PageObject, PdfWriter
    from pypdf.generic import NameObject

    holder = PdfWriter()
    page = PageObject.create_blank_page(width=width, height=height)
    page[NameObject("/Contents")] = holder._add_object(stream)
    return page


# --- digest --------------------------------------------------------------------------------------------

def digest_layout(v: RuleVersion, requested: str | None = None) -> str:
    """"list" (large numbered lines filling the page) or "cards" (a grid of numbered cards, 20–36 points)."""
    if requested in ("list", "cards"):
        return requested
    return "cards" if len(v.digest_items) >= CARDS_FROM else "list"


def digest_pdf(v: RuleVersion, layout: str | None = None) -> bytes:
    """Render the digest poster (A4) in the given layout, or the one its number of points calls for."""
    layout = digest_layout(v, layout)
    items = list(v.digest_items)
    columns = 3 if len(items) <= 24 else 4
    return render_pdf("rules_digest.html", v=v, village=_village(v), layout=layout, items=items,
                      cite_label=cite_label, list_fit=list_fit(items), columns=columns,
                      card_fit=card_fit(items, columns))


def _width(text: str) -> float:
    """The width of a text in ems: a CJK character is 1 em, a Latin letter or digit about half."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def list_fit(items) -> tuple[int, float]:
    """The font size (pt) and the space between points (mm) at which the list poster fills one A4 page.

    An estimate from the characters (the points' block is about 168 × 196 mm, lines 1.45 em apart, the
    number takes 1.6 em, the 第X条 citation is 0.62 em a character and never breaks): the largest size at which
    the points fit, then the height left over shared out between them, so a few points fill the page too.
    """
    width_mm, height_mm = 168.0, 196.0
    for size in (32, 30, 28, 26, 24, 22, 20, 18, 17, 16, 15, 14, 13, 12):
        em = size * 25.4 / 72
        per_line = (width_mm / em) - 1.6
        lines = 0
        for d in items:
            cite = 0.62 * _cites_width(d)
            lines += math.ceil((_width(d.text) + cite) / per_line)
        used = lines * em * 1.45
        if used + len(items) * 0.3 * em <= height_mm:
            gap = (height_mm - used) / max(1, len(items))
            return size, round(min(gap, 1.2 * em), 1)
    return 12, 1.5


_CN_DIGITS = "零一二三四五六七八九"


def _cites_width(d) -> float:
    return _width("（）") + sum(_width(cite_label(a)) + 1 for a in d.articles)


def card_fit(items, columns: int) -> tuple[float, float]:
    """The font size (pt) and the height (mm) of the cards, so that every card's text fits its card and the
    rows fill the page between the title and the seal (about 190 × 182 mm, 2.5 mm between cards)."""
    rows = max(1, math.ceil(len(items) / columns))
    row_h = min(60.0, (190.0 - (rows + 1) * 2.5) / rows)
    content_h = row_h - 4.5  # 2 mm padding above and below, the border
    content_w = (182.0 - (columns + 1) * 2.5) / columns - 5.0
    for size in (16, 15, 14, 13, 12, 11, 10.5, 10, 9.5, 9):
        em = size * 25.4 / 72
        per_line = content_w / em
        text_per_line = per_line - 2.2  # the number sits at the left, 1.5 em tall
        tallest = 0.0
        for d in items:
            lines = max(1, math.ceil(_width(d.text) / text_per_line))
            cite_lines = math.ceil(0.75 * _cites_width(d) / text_per_line)
            tallest = max(tallest, lines * 1.35 * em + cite_lines * 0.75 * 1.3 * em + 0.8)
        if tallest <= content_h:
            return size, round(content_h, 1)
    return 9, round(content_h, 1)


def _cn(n: int) -> str:
    """Write 1–9999 in Chinese numerals as articles are numbered (十二, 一百零五)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            out += ("零" if zero and out else "") + _CN_DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def cite_label(article) -> str:
    """How the digest cites an article: as 第X条, whatever the numbering it was written with (一、 or 12.)."""
    label = (article.label or "").strip()
    if label.startswith("第") and label.endswith(("条", "條")):
        return label
    if article.number and 0 < article.number < 10_000:
        return f"第{_cn(article.number)}条"
    return label
