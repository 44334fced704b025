"""Pinyin-initials search keys that survive surnames and polyphones (docs/architecture.md, "Input and files")."""
from __future__ import annotations

from itertools import product

from pypinyin import Style, lazy_pinyin, pinyin

#: surnames whose reading differs from the character's common reading
SURNAME_FIRST = {"单": "s", "曾": "z", "仇": "q", "解": "x", "区": "o", "查": "z", "朴": "p", "覃": "q",
                 "尉": "y", "万": "w", "乐": "y", "缪": "m", "翟": "z", "盖": "g", "召": "s"}


def initials_keys(name: str, limit: int = 8) -> list[str]:
    """Return up to `limit` initials strings for a name, the common reading first."""
    name = "".join(ch for ch in (name or "") if not ch.isspace())
    if not name:
        return []
    first = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()
    keys = [first] if first else []
    if name[0] in SURNAME_FIRST and first:
        alt = SURNAME_FIRST[name[0]] + first[1:]
        if alt not in keys:
            keys.append(alt)
    syllables = pinyin(name, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
    for combo in product(*[s[:3] for s in syllables]):
        k = "".join(combo).lower()
        if k and k not in keys:
            keys.append(k)
        if len(keys) >= limit:
            break
    return [k for k in keys if k.isascii() and k.isalnum()][:limit]


def search_keys(name: str) -> str:
    return " ".join(initials_keys(name))
