"""Input canonicalisation shared by forms, imports and the command line (docs/reliability.md §3.4)."""
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
