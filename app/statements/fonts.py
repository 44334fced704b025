"""A pre-subset CJK face for statements: the GB2312 characters of Noto Serif CJK SC, renumbered.

WeasyPrint keeps every glyph id up to the largest one used (about 150 KB per face even for one page,
docs/architecture.md, "Printing"). A face holding only GB2312's 7,500 characters has small, dense glyph
ids: one statement's PDF shrinks from about 175 KB to 70 KB (batches do without it, see
statement_context in batch.py). The file
(about 5 MB) is built on the machine from the installed fonts-noto-cjk, never committed; without it
statements use the system face. Rare characters (生僻字 in names) fall back to the full Noto face,
which stays next in font-family.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..config import PRINTABLES_DIR

FONTS_DIR = PRINTABLES_DIR / "fonts"
DEFAULT_NAME = "xy-gb2312-serif.otf"
FAMILY = "XY GB2312 Serif"
SOURCE = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
#: printed by the templates beyond GB2312 (signed points, stars, times sign, dashes)
EXTRA = "★☆×−–—…·（）：；，。、“”‘’《》【】〔〕"


def gb2312_text() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)} | set(EXTRA)
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(sorted(chars))


def build_subset_font(out: Path, *, source: str = SOURCE, text: str | None = None) -> int:
    """Write the subset face to `out` (atomically); return its size in bytes. Takes about 25 s."""
    # imported on use, not for a cycle: only `flask statements build-font` needs fontTools
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it lists every glyph id at INFO

    collection = TTCollection(source, lazy=True)
    try:
        number = next((i for i, f in enumerate(collection.fonts)
                       if f["name"].getDebugName(1) == "Noto Serif CJK SC"), None)
    finally:
        collection.close()
    if number is None:
        raise LookupError(f"Noto Serif CJK SC not found in {source}")
    options = subset.Options()
    options.font_number = number
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(source, options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text if text is not None else gb2312_text())
        subsetter.subset(font)
        for record in font["name"].names:
            if record.nameID in (1, 4, 16):
                record.string = FAMILY
            elif record.nameID == 6:
                record.string = FAMILY.replace(" ", "-")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subset.save_font(font, str(tmp), options)
    finally:
        font.close()
    os.replace(tmp, out)
    return out.stat().st_size


def font_family(name: str | None) -> str:
    """The @font-face family for a built face, named after its file: the process-wide FontConfiguration
    keeps a face per family, so another file (a rebuilt or a test face) must not reuse a family name."""
    return f"{FAMILY} {Path(name or DEFAULT_NAME).stem}"


def statement_font(name: str | None) -> str | None:
    """The subset face's URL relative to printables/, if it has been built."""
    name = name or DEFAULT_NAME
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    return f"fonts/{name}" if (FONTS_DIR / name).is_file() else None
