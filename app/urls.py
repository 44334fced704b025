"""Where a request may send the browser next: only to a path on this site."""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import request, url_for
from werkzeug.routing import IntegerConverter

#: the largest id a URL may name: every id column is a 32-bit INTEGER on one of the two databases
MAX_ID = 2**31 - 1

#: longer than any page of ours with its query string; a longer `next` is not one of ours
MAX_NEXT = 1000
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"}


def is_local_path(target: str | None) -> bool:
    """True when `target` can only mean a path on this site, however a browser reads it.

    Browsers drop tabs and line breaks inside a URL, read a backslash as a slash and a leading
    `//` as another host, so `/\\t/evil.com`, `/\\\\evil.com` and `//evil.com` all leave the site.
    Anything with a control character, a backslash, a scheme or a host, or that starts with `//`
    after percent-decoding, is refused rather than repaired.
    """
    if not target or not isinstance(target, str) or len(target) > MAX_NEXT:
        return False
    if not target.startswith("/"):
        return False
    for text in (target, unquote(target), unquote(unquote(target))):
        # a path of ours may hold Chinese (a village code, a search), never a control, format or space character
        if any(ord(c) < 0x21 or unicodedata.category(c) in _INVISIBLE for c in text) or "\\" in text:
            return False
        if text.startswith("//") or text.startswith("/\\"):
            return False
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return False
    return True


def as_id(raw: object) -> int | None:
    """`raw` as an id: a whole number 1..MAX_ID (an int, or a string of ASCII digits), else None.

    A number larger than any id column would make PostgreSQL raise (a 500 page), and int() would take
    "١٢", "²", " 7" or "1_0" too, so every id a person can type goes through here.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def id_arg(name: str, source=None) -> int | None:
    """An id from the query string (or `source`, e.g. request.values or request.form) through `as_id`."""
    return as_id((request.args if source is None else source).get(name, "") or "")


def safe_next(target: str | None, endpoint: str = "main.index", **values) -> str:
    """`target` when it is a local path (see is_local_path), else the URL of `endpoint`.

    Use it for every `next` a request carries (login, language switch, review forms).
    """
    return target if is_local_path(target) else url_for(endpoint, **values)


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in a route, but no larger than an id column holds: a bigger number is a 404, not a 500.

    Installed as the app's "int" converter, so every route gets it.
    """

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
