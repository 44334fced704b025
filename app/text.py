"""Text shared by every feature: input canonicalisation for forms, imports and the command line
(docs/architecture.md, "Input and files"), masking of names and phones, and the register's natural sort order."""
from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l

FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
_ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E}


class TextRejected(ValueError):
    """The text cannot be stored; the message says why in the user's language."""


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """NFC-normalise and trim text; refuse control, bidi-override and zero-width characters.

    They spoof printed receipts and spreadsheets (a name that reads differently from
    what is stored), so they are refused with a message rather than silently dropped.
    """
    if value is None or not value.strip():
        return ""  # blank (tabs and line breaks included) is an empty answer, not text to refuse
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for ch in text:
        cp = ord(ch)
        if ch == "\n" and multiline:
            continue
        if cp in _BIDI:
            raise TextRejected(_l("Contains a text-direction control character; please retype it."))
        if cp in _ZERO_WIDTH:
            raise TextRejected(_l("Contains an invisible (zero-width) character; please retype it."))
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or cp in (0x2028, 0x2029):
            raise TextRejected(_l("Contains a control character or line break that is not allowed here."))
    return text.strip(" \t\u3000")


def parse_small_int(value: str | None, *, lo: int = 0, hi: int = 999_999) -> int:
    """Parse a whole number typed by a person: full-width digits are fine, nothing exotic is."""
    s = (value or "").translate(FULLWIDTH_DIGITS).strip(" \u3000")
    if not re.fullmatch(r"[0-9]{1,9}", s):
        raise ValueError(_l("Please enter a whole number."))
    n = int(s)
    if not lo <= n <= hi:
        raise ValueError(_l("Please enter a number from %(lo)s to %(hi)s.", lo=lo, hi=hi))
    return n


def mask_phone(phone: str | None) -> str:
    """138****5678 for mobiles; keep only the last four digits of anything else."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) == 11 and digits.isdigit():
        return digits[:3] + "****" + digits[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_name(name: str | None) -> str:
    """张*丰 / 张* for posted and kiosk views."""
    if not name:
        return ""
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(run: str) -> str:
    """十二 → 12, 二十 → 20, 三 → 3 (group names count up to a few dozen)."""
    if "十" in run:
        tens, _, ones = run.partition("十")
        return str((_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0))
    return "".join(str(_CN_DIGITS[c]) for c in run)


def natural_key(text: str | None) -> tuple:
    """Sort key that puts 2组 before 10组, 第二组 before 第十组 and 0102 before 0110."""
    text = re.sub(r"[零一二两三四五六七八九十]+", lambda m: _cn_number(m.group(0)), text or "")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


_ORDINAL = re.compile(r"第(?=\s*[0-9零一二两三四五六七八九十])")


def group_key(name: str | None) -> tuple:
    """Sort key for villager groups and grids by their number: 第一组, 第二组 … 第十二组, and 一组/1组/十一组/第1组
    alike (the ordinal 第 is ignored, Chinese and full-width numerals count as numbers); unnumbered names after.

    Every list of groups sorts with this key, so a village's groups come in the same order on every page.
    """
    text = _ORDINAL.sub("", (name or "").translate(FULLWIDTH_DIGITS)).strip()
    key = natural_key(text)
    return (0 if key and key[0][0] == 0 else 1, key, name or "")
