"""身份证号 validation, keyed hashing and masking; phone masking."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..db import local_today

# the masks live in the core (the Jinja filters use them); kept importable here for the register's modules
from ..text import FULLWIDTH_DIGITS, mask_name, mask_phone  # noqa: F401

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
ID_RE = re.compile(r"\d{17}[\dX]")


class IdNumberInvalid(ValueError):
    """The number is not a valid resident ID number; the message says what is wrong."""

    #: forms show the message next to their ID number field
    field = "id_number"


def normalize_id_number(raw: str) -> str:
    """Validate a GB 11643 resident ID number and return it upper-cased (x → X).

    :raises IdNumberInvalid: wrong length, characters, birth date or check digit.
    """
    s = (raw or "").translate(FULLWIDTH_DIGITS).replace("ｘ", "X").replace("Ｘ", "X").strip().upper()
    s = s.replace(" ", "")
    if len(s) == 15 and s.isdigit():
        raise IdNumberInvalid(_l("This is an old 15-digit ID number; please enter the 18-digit number."))
    if len(s) != 18:
        raise IdNumberInvalid(_l("An ID number has 18 characters; this one has %(n)s.", n=len(s)))
    if not ID_RE.fullmatch(s):
        raise IdNumberInvalid(_l("An ID number has 17 digits followed by a digit or X."))
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise IdNumberInvalid(_l("The birth date inside the ID number does not exist.")) from None
    if born.year < 1880 or born > local_today():
        raise IdNumberInvalid(_l("The birth date inside the ID number is not plausible."))
    total = sum(int(d) * w for d, w in zip(s[:17], _WEIGHTS))
    if _CHECK[total % 11] != s[17]:
        raise IdNumberInvalid(_l("The check digit (last character) of the ID number is wrong."))
    return s


def birth_date_from_id(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def sex_from_id(number: str) -> str:
    return "male" if int(number[16]) % 2 else "female"


def id_hmac(number: str) -> str:
    """Keyed hash for lookup and duplicate checks; useless without the key kept outside the database."""
    key = current_app.config["ID_HMAC_KEY"].encode()
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


def mask_id(number: str) -> str:
    """4403**********1234: region prefix and last four only."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def check_id_number(number: str) -> bool:
    try:
        normalize_id_number(number)
    except IdNumberInvalid:
        return False
    return True


def make_test_id(region: str, born: dt.date, seq: int) -> str:
    """Build a syntactically valid ID number (for demo data and tests only)."""
    body = f"{region[:6]}{born:%Y%m%d}{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS))
    return body + _CHECK[total % 11]
