"""Checks a printed document must pass, reusable by any test that prints (the print gate: tests/test_print_gate.py).

- `observe_layouts()`: the laid-out WeasyPrint documents of every print made inside it (app.printing's test-only
  RENDER_OBSERVERS hook), for the layout checks below.
- `boxes_outside_page(document)`: every box whose border box leaves its page's content area (a margin box: the page).
- `words_outside_page(pdf)`: the same question asked of the PDF alone, with poppler's word boxes.
- `missing_glyphs(pdf)`: characters of the text that no embedded font has (drawn as .notdef, an empty box on paper);
  `unknown_glyphs(document)` asks Pango the same of the layout.
- `page_number_errors(pages)`: the 第 x 页 / 共 y 页 footers against the real page count.
- `compare_with_refs(...)`: low-resolution page images against the committed references in tests/data/print_refs/.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader

from app import printing
from tests.paper_helpers import layout

REFS_DIR = Path(__file__).resolve().parent / "data" / "print_refs"
#: CSS px (WeasyPrint's unit, 1/96 in): a box may pass its edge by rounding, not by a printed stroke
BOX_TOLERANCE = 0.5
PX_PER_MM = 96 / 25.4


# --- the layout tree ------------------------------------------------------------------------------

@contextlib.contextmanager
def observe_layouts():
    """Collect (template_name, WeasyPrint Document) of every print made in the block (None: a batch document)."""
    seen: list[tuple[str | None, object]] = []

    def observer(name, document):
        seen.append((name, document))

    printing.RENDER_OBSERVERS.append(observer)
    try:
        yield seen
    finally:
        printing.RENDER_OBSERVERS.remove(observer)


def _label(box) -> str:
    """tag.class "first words" of a box, to find it in the template."""
    from weasyprint.formatting_structure import boxes

    element = getattr(box, "element", None)
    tag = getattr(box, "element_tag", None) or type(box).__name__
    classes = element.get("class") if element is not None else None
    text = ""
    for child in box.descendants():
        if isinstance(child, boxes.TextBox) and child.text.strip():
            text = child.text.strip()[:24]
            break
    return f"{tag}{'.' + '.'.join(classes.split()) if classes else ''} {text!r}"


def boxes_outside_page(document, tolerance: float = BOX_TOLERANCE) -> list[str]:
    """Where a box's border box leaves its page: the content area for the document's boxes, the page for the
    margin boxes (footers) and what they hold. One line per element (its outermost offending box), in mm.

    Text and inline boxes are checked across only: their height is the font's ascent and descent (1.45 em for
    Noto CJK), more than a line-height of 1.3 gives them; their line box is checked instead.
    """
    from weasyprint.formatting_structure import boxes

    problems: list[tuple] = []
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        content = (page_box.content_box_x(), page_box.content_box_y(),
                   page_box.content_box_x() + page_box.width, page_box.content_box_y() + page_box.height)
        sheet = (0.0, 0.0, page_box.margin_width(), page_box.margin_height())
        reported: set[int] = set()
        stack = [(child, content, "content area") for child in page_box.all_children()]
        while stack:
            box, area, where = stack.pop()
            if isinstance(box, boxes.MarginBox):
                area, where = sheet, "page"
            problem = _outside(box, area, tolerance)
            key = id(getattr(box, "element", None) or box)
            if problem and key not in reported:
                reported.add(key)
                problems.append((number, box.border_box_y(), box.border_box_x(),
                                 f"page {number}: {_label(box)} leaves the {where} ({problem})"))
            stack.extend((child, area, where) for child in reversed(list(box.all_children())))
    return [text for *_, text in sorted(problems, key=lambda p: p[:3])]


def _outside(box, area, tolerance: float) -> str:
    """How far the box's border box passes the area's edges, e.g. "right 7.8 mm"; "" when inside."""
    from weasyprint.formatting_structure import boxes

    if box.border_width() <= tolerance and box.border_height() <= tolerance:
        return ""
    x0, y0 = box.border_box_x(), box.border_box_y()
    x1, y1 = x0 + box.border_width(), y0 + box.border_height()
    over = {"left": area[0] - x0, "top": area[1] - y0, "right": x1 - area[2], "bottom": y1 - area[3]}
    if isinstance(box, (boxes.TextBox, boxes.InlineBox)):
        del over["top"], over["bottom"]
    return ", ".join(f"{side} {px / PX_PER_MM:.1f} mm" for side, px in over.items() if px > tolerance)


def unknown_glyphs(document) -> list[str]:
    """Characters Pango found in no font (it draws them as .notdef), from the layout's text boxes."""
    from weasyprint.formatting_structure import boxes
    from weasyprint.text.ffi import ffi, pango

    if not hasattr(unknown_glyphs, "declared"):
        with contextlib.suppress(Exception):  # declared once per process; cffi refuses a second declaration
            ffi.cdef("int pango_layout_get_unknown_glyphs_count (PangoLayout *layout);")
        unknown_glyphs.declared = True
    found: list[str] = []
    for page in document.pages:
        for box in page._page_box.descendants():
            if isinstance(box, boxes.TextBox) and box.text.strip():
                box.pango_layout.reactivate(box.style)
                try:
                    if pango.pango_layout_get_unknown_glyphs_count(box.pango_layout.layout):
                        found.append(box.text)
                finally:
                    box.pango_layout.deactivate()
    return found


# --- the PDF --------------------------------------------------------------------------------------

def pdf_pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    """Text without whitespace: cells wrap and extraction puts line breaks inside long strings."""
    return "".join(text.split())


def words_outside_page(pdf: bytes, inset_mm: float = 0.0) -> list[str]:
    """Words whose box (pdftotext -bbox-layout, tests/paper_helpers.py) is not at least `inset_mm` inside the
    sheet's edges (0.5 pt of rounding allowed)."""
    tolerance = 0.5 / (72 / 25.4)
    problems = []
    for number, page in enumerate(layout(pdf), start=1):
        for w in page.words:
            if w.x0 < inset_mm - tolerance or w.y0 < inset_mm - tolerance \
                    or w.x1 > page.width - inset_mm + tolerance or w.y1 > page.height - inset_mm + tolerance:
                problems.append(f"page {number}: {w.text!r} at x {w.x0:.1f}–{w.x1:.1f}, y {w.y0:.1f}–{w.y1:.1f} mm "
                                f"on a {page.width:.0f}×{page.height:.0f} mm page")
    return problems


def page_lines(pdf: bytes) -> list[list[str]]:
    """Each page's lines of text as poppler lays them out (pdftotext -layout), without whitespace."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout
    return [[squash(line) for line in page.splitlines() if line.strip()]
            for page in out.decode().split("\f")]


#: a figure, date or code: what must never break across lines ("HAZMT-/RY056", "2026-12-0/5")
UNBREAKABLE = re.compile(r"[0-9A-Za-z+\-\u2212:./年月日]*[0-9][0-9A-Za-z+\-\u2212:./年月日]*")


def broken_strings(pdf: bytes, strings) -> list[str]:
    """The figures, dates and codes among `strings` that are in the PDF but on no line whole."""
    lines = [line for page in page_lines(pdf) for line in page]
    text = "".join(lines)
    return [s for s in dict.fromkeys(squash(x) for x in strings)
            if UNBREAKABLE.fullmatch(s) and s in text and not any(s in line for line in lines)]


def _to_unicode(font) -> dict[int, str]:
    """glyph id → text, from a font's ToUnicode CMap (bfchar and bfrange)."""
    if "/ToUnicode" not in font:
        return {}
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    out: dict[int, str] = {}

    def text(hexes: str) -> str:
        return bytes.fromhex(hexes).decode("utf-16-be", "replace")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for gid, uni in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>", block):
            out[int(gid, 16)] = text(uni)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for lo, hi, uni in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            start = int(uni, 16)
            for i, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[gid] = chr(start + i)
    return out


def _font_program(font):
    """The embedded font of a (Type0 or simple) PDF font as a fontTools TTFont, or None if not embedded."""
    from fontTools.ttLib import TTFont

    descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
    descriptor = descendant.get("/FontDescriptor")
    if descriptor is None:
        return None
    descriptor = descriptor.get_object()
    for key in ("/FontFile2", "/FontFile3", "/FontFile"):
        if key in descriptor:
            return TTFont(io.BytesIO(descriptor[key].get_object().get_data()), lazy=True)
    return None


def missing_glyphs(pdf: bytes) -> list[str]:
    """Characters of the PDF's text that its embedded fonts do not have.

    Each font's ToUnicode map lists the glyphs the pages show with the text each stands for; a character is
    missing when its glyph is .notdef (glyph 0) or not in the embedded font at all (WeasyPrint numbers a missing
    character's glyph past the font's last one). The font's own character map is not asked: a glyph chosen by
    an OpenType feature (tabular figures, vertical forms) is drawn for a character the subset's map leaves out.
    """
    problems: list[str] = []
    seen: set[int] = set()
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1):
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
            font = ref.get_object()
            name = str(font.get("/BaseFont"))
            program = _font_program(font)
            if program is None:
                problems.append(f"page {number}: font {name} is not embedded")
                continue
            count = program["maxp"].numGlyphs
            for gid, text in sorted(_to_unicode(font).items()):
                chars = "".join(f"U+{ord(c):04X} {c!r}" for c in text)
                if gid == 0 or gid >= count:
                    problems.append(f"page {number}: {chars} has no glyph in {name}")
    return problems


FOOTER = re.compile(r"第\s*(\d+)\s*页\s*/\s*共\s*(\d+)\s*页")


def page_numbers(pages: list[str]) -> list[tuple[int, int] | None]:
    """The (x, y) of each page's 第 x 页 / 共 y 页 footer, None where a page has none."""
    out = []
    for text in pages:
        found = FOOTER.findall(text)
        out.append((int(found[-1][0]), int(found[-1][1])) if found else None)
    return out


def page_number_errors(pages: list[str], documents: list[int] | None = None, *, cover: bool = False) -> list[str]:
    """What is wrong with the footers: each page must have one, numbered 1…y within its document of y pages.

    `documents`: the page count of each document of a batch (one PDF of several statements); default one document.
    `cover`: each document's first page is a cover without a number (it still counts).
    """
    numbers = page_numbers(pages)
    documents = documents or [len(pages)]
    if sum(documents) != len(pages):
        return [f"{len(pages)} pages, but the documents have {sum(documents)}"]
    problems = []
    first = 0
    for count in documents:
        for i in range(count):
            got, want = numbers[first + i], (i + 1, count)
            if cover and i == 0:
                want = None
            if got != want:
                shown = f"第 {got[0]} 页 / 共 {got[1]} 页" if got else "no page number"
                wanted = f"第 {want[0]} 页 / 共 {want[1]} 页" if want else "none (a cover)"
                problems.append(f"page {first + i + 1}: {shown}, should be {wanted}")
        first += count
    return problems


def imposed_page_number_errors(sides: list[str]) -> list[str]:
    """What is wrong with a booklet imposed 2-up for saddle stitching (`sides`: the text of each sheet side).

    A booklet of n pages (a multiple of 4, the cover unnumbered) prints n/2 sides; folded and stapled, each
    side holds two pages whose numbers add up to n + 1 (n and 1 outside, 2 and n − 1 behind them …). So every
    side must carry two 第 x 页 / 共 n 页 footers (one beside the cover), every x from 2 to n once."""
    n = 2 * len(sides)
    if n % 4:
        return [f"{len(sides)} sides: a saddle-stitched booklet has a multiple of 4 pages, not {n}"]
    problems, seen = [], []
    for number, text in enumerate(sides, start=1):
        found = [(int(x), int(y)) for x, y in FOOTER.findall(text)]
        if any(y != n for _x, y in found):
            problems.append(f"side {number}: {found} should all say 共 {n} 页")
        pages = sorted(x for x, _y in found)
        if pages == [n]:
            pages = [1, n]  # the cover, unnumbered, beside the last page
        if len(pages) != 2 or sum(pages) != n + 1:
            problems.append(f"side {number}: pages {pages}; a folded sheet pairs two pages adding up to {n + 1}")
        seen += [x for x, _y in found]
    if sorted(seen) != list(range(2, n + 1)):
        problems.append(f"the footers number pages {sorted(seen)}, not 2 to {n} once each")
    return problems


# --- page images ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageTolerance:
    #: mean absolute difference of the gray levels (0–255) over the page
    mean: float = 1.5
    #: share of the pixels differing by more than `level`
    share: float = 0.004
    level: int = 64


def page_images(pdf: bytes, dpi: int = 30) -> list:
    """The pages as gray PIL images at `dpi` (pdftoppm)."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(path), str(Path(tmp) / "p")], check=True,
                       capture_output=True)
        files = sorted(Path(tmp).glob("p-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        images = []
        for file in files:
            with Image.open(file) as im:
                images.append(im.convert("L").copy())
    return images


def image_difference(actual, reference) -> tuple[float, float, object]:
    """(mean absolute difference, share of pixels differing by more than the tolerance's level, diff image)."""
    from PIL import ImageChops

    diff = ImageChops.difference(actual, reference)
    hist = diff.histogram()
    pixels = actual.width * actual.height
    mean = sum(i * n for i, n in enumerate(hist)) / pixels
    share = sum(hist[ImageTolerance.level + 1:]) / pixels
    return mean, share, diff


def update_refs_wanted() -> bool:
    return os.environ.get("UPDATE_PRINT_REFS", "") not in ("", "0")


def compare_with_refs(name: str, pdf: bytes, out_dir: Path, *, refs_dir: Path = REFS_DIR, dpi: int = 30,
                      tolerance: ImageTolerance = ImageTolerance(), update: bool | None = None) -> list[str]:
    """Compare the pages of `pdf` with refs_dir/<name>-p<NN>.png; problems as text (empty: the same).

    With `update` (default: UPDATE_PRINT_REFS=1 in the environment) the references are written instead.
    On a difference the actual page and a diff image (white = same) are written to `out_dir` and named.
    """
    from PIL import ImageOps

    images = page_images(pdf, dpi)
    refs = sorted(refs_dir.glob(f"{name}-p[0-9][0-9].png"))
    if update_refs_wanted() if update is None else update:
        refs_dir.mkdir(parents=True, exist_ok=True)
        for old in refs:
            old.unlink()
        for i, image in enumerate(images, start=1):
            image.save(refs_dir / f"{name}-p{i:02d}.png", optimize=True)
        return []
    problems = []
    out_dir.mkdir(parents=True, exist_ok=True)

    def keep(i, image, diff=None) -> str:
        actual = out_dir / f"{name}-p{i:02d}-actual.png"
        image.save(actual)
        written = [str(actual)]
        if diff is not None:
            path = out_dir / f"{name}-p{i:02d}-diff.png"
            ImageOps.invert(ImageOps.autocontrast(diff)).save(path)
            written.append(str(path))
        return ", ".join(written)

    if not refs:
        pages = ", ".join(keep(i, im) for i, im in enumerate(images, start=1))
        return [(f"no reference images {refs_dir}/{name}-pNN.png: run `make print-refs` and look at them "
                 f"(actual pages: {pages})")]
    if len(refs) != len(images):
        problems.append(f"{len(images)} pages, the reference has {len(refs)} "
                        f"(actual pages: {', '.join(keep(i, im) for i, im in enumerate(images, start=1))})")
        return problems
    from PIL import Image

    for i, (image, ref_path) in enumerate(zip(images, refs), start=1):
        with Image.open(ref_path) as ref:
            ref = ref.convert("L")
            if ref.size != image.size:
                problems.append(f"page {i}: {image.size} px, the reference {ref.size} px ({keep(i, image)})")
                continue
            mean, share, diff = image_difference(image, ref)
        if mean > tolerance.mean or share > tolerance.share:
            problems.append(f"page {i}: mean difference {mean:.2f} (≤ {tolerance.mean}), {share:.2%} of the pixels "
                            f"differ (≤ {tolerance.share:.2%}) against {ref_path.name}: {keep(i, image, diff)}")
    return problems
