"""Reading printed PDFs back the way a reader sees them: text (pypdf), word boxes and lines (pdftotext
-bbox-layout), page sizes, and page images (pdftoppm) for looking at them."""
from __future__ import annotations

import io
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader

MM = 72 / 25.4  # PDF points per millimetre


def pdf_text(data: bytes) -> str:
    """The text of every page (pypdf), without the spaces it puts between runs: "余额： 100" reads "余额：100"."""
    return re.sub(r"[ \t]+", "", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def page_sizes_mm(data: bytes) -> list[tuple[float, float]]:
    """(width, height) of each page in mm."""
    return [(float(p.mediabox.width) / MM, float(p.mediabox.height) / MM) for p in PdfReader(io.BytesIO(data)).pages]


@dataclass
class Word:
    page: int
    text: str
    x0: float  # mm from the left edge
    y0: float  # mm from the top edge
    x1: float
    y1: float


@dataclass
class Page:
    width: float  # mm
    height: float
    words: list[Word]
    lines: list[str]  # each laid-out line's words, joined without spaces


def layout(data: bytes) -> list[Page]:
    """Every page's words with their boxes (mm) and its lines, as pdftotext -bbox-layout reads them."""
    out = subprocess.run(["pdftotext", "-bbox-layout", "-", "-"], input=data, capture_output=True,
                         check=True).stdout
    xml = re.sub(rb"<!DOCTYPE[^>]*>", b"", out)
    root = ET.fromstring(xml)
    pages = []
    for n, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page")):
        words, lines = [], []
        for line in page.iter("{http://www.w3.org/1999/xhtml}line"):
            ws = list(line.iter("{http://www.w3.org/1999/xhtml}word"))
            lines.append("".join(w.text or "" for w in ws))
            for w in ws:
                words.append(Word(n, w.text or "", *(float(w.get(k)) / MM for k in ("xMin", "yMin", "xMax", "yMax"))))
        pages.append(Page(float(page.get("width")) / MM, float(page.get("height")) / MM, words, lines))
    return pages


def words_outside(data: bytes, *, left: float, right: float, top: float = 5, bottom: float = 5) -> list[Word]:
    """Words that leave the content area: closer to the left or right edge than its side margins (mm), or to
    the top or bottom edge than `top`/`bottom` (the running header and page number live in the margins)."""
    tol = 0.3
    return [w for p in layout(data) for w in p.words
            if w.x0 < left - tol or w.x1 > p.width - right + tol or w.y0 < top - tol or w.y1 > p.height - bottom + tol]


DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日")


def broken_dates(data: bytes, dates: list[str]) -> list[str]:
    """Those of `dates` that no laid-out line of the PDF holds whole (split across lines, or missing)."""
    lines = [line for p in layout(data) for line in p.lines]
    return [d for d in dates if not any(d in line for line in lines)]


def save_pngs(data: bytes, stem: str | Path, dpi: int = 60) -> list[Path]:
    """Page images for looking at a printable: stem-1.png, stem-2.png ..."""
    stem = Path(stem)
    pdf = stem.with_suffix(".pdf")
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(stem)], check=True)
    return sorted(stem.parent.glob(stem.name + "-*.png"))


def look(data: bytes, name: str) -> None:
    """With PAPER_LOOK=<folder> set, keep the PDF and its page images there to be looked at."""
    import os

    folder = os.environ.get("PAPER_LOOK")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        save_pngs(data, Path(folder) / name)


def visual_lines(data: bytes, tolerance: float = 1.0) -> list[str]:
    """Words standing on the same level of a page (top edges within `tolerance` mm), left to right and joined:
    a table row's first lines across its cells, as the eye reads it."""
    out = []
    for page in layout(data):
        rows: list[list[Word]] = []
        for w in sorted(page.words, key=lambda w: (w.y0, w.x0)):
            if rows and abs(rows[-1][0].y0 - w.y0) <= tolerance:
                rows[-1].append(w)
            else:
                rows.append([w])
        out.extend("".join(w.text for w in sorted(row, key=lambda w: w.x0)) for row in rows)
    return out
