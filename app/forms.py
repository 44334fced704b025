"""Shared form pieces: text fields that canonicalise input and refuse spoofing characters."""
from __future__ import annotations

import datetime as dt
import re

from flask import flash, request
from babel import support
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import StopValidation, ValidationError

from .extensions import db
from .idempotency import new_key, usable_key
from .text import TextRejected, clean_text, parse_small_int


def refuse(form, field_name: str, err: Exception) -> None:
    """Undo the attempt and show the service's message next to the field it concerns.

    A service error may name its own field (`err.field`); otherwise the message goes to
    `field_name`, and to the submit button if the form has neither. An error that concerns several
    fields (`err.fields`, field → message) marks every one of them the form has.
    """
    db.session.rollback()
    several = {name: message for name, message in (getattr(err, "fields", None) or {}).items()
               if getattr(form, name, None) is not None}
    if several:
        for name, message in several.items():
            target = getattr(form, name)
            target.errors = list(target.errors) + [message]
        return
    target = getattr(form, getattr(err, "field", None) or "", None) or getattr(form, field_name, None) \
        or form.submit
    if isinstance(target.errors, tuple):
        target.errors = list(target.errors)
    target.errors.append(str(err))


def flash_recorded(record, message: str) -> None:
    """Confirm a posted form; a resubmission (same form key, `record.replayed`) changed nothing, so say that."""
    if getattr(record, "replayed", False):
        flash(gettext("This was already recorded."), "info")
    else:
        flash(message, "success")


def page_number(name: str = "page") -> int:
    """The list page asked for in the query string (?page=3); anything else is the first page."""
    try:
        return max(1, min(int(request.args.get(name, 1)), 100000))
    except ValueError:
        return 1


def options(pairs) -> list[SelectChoice]:
    """Select choices from (value, label) pairs, in the SelectChoice form WTForms 3.3 expects."""
    return [SelectChoice(value, label) for value, label in pairs]


_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]")
_FORMULA_START = ("=", "+", "-", "@")


class PlainName:
    """For names that go on printed sheets, receipts and spreadsheets (product, donor, receipt number):
    refuse what looks like a web page tag or a spreadsheet formula, which no real name needs."""

    def __call__(self, form, field):
        value = field.data or ""
        if _MARKUP.search(value):
            raise ValidationError(_l("Please leave out web page markup such as <script>; type the name only."))
        if value.startswith(_FORMULA_START):
            raise ValidationError(_l("A name cannot start with = + - or @ (spreadsheet formula characters)."))


class CleanStringField(StringField):
    """A single-line text field: NFC, trimmed, no control / bidi / zero-width characters."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self._rejected = None
        try:
            self.data = clean_text(self.data)
        except TextRejected as e:
            self._rejected = str(e)

    def pre_validate(self, form):
        if getattr(self, "_rejected", None):
            raise ValidationError(self._rejected)


class CleanTextAreaField(TextAreaField):
    """Multi-line text: like CleanStringField but keeps line breaks."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self._rejected = None
        try:
            self.data = clean_text(self.data, multiline=True)
        except TextRejected as e:
            self._rejected = str(e)

    def pre_validate(self, form):
        if getattr(self, "_rejected", None):
            raise ValidationError(self._rejected)


class LooseDateField(StringField):
    """A date typed as 2026-11-25, 2026/11/25, 2026.11.25 or 2026年11月25日."""

    def _value(self):
        if isinstance(self.data, dt.date):
            return self.data.isoformat()
        return self.raw_data[0] if self.raw_data else ""

    def process_formdata(self, valuelist):
        self.data = None
        self._bad = False
        raw = (valuelist[0] if valuelist else "") or ""
        raw = raw.strip()
        if not raw:
            return
        try:
            self.data = parse_date(raw)
        except ValueError:
            self._bad = True

    def pre_validate(self, form):
        if getattr(self, "_bad", False):
            # StopValidation, not ValidationError: DataRequired would otherwise clear this message and say
            # "required" about a field the person did fill in
            raise StopValidation(_l("Please enter a date like 2026-11-25."))


def parse_date(raw: str) -> dt.date:
    s = raw.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    for a in ("年", "月", "/", ".", "．"):
        s = s.replace(a, "-")
    s = s.replace("日", "").strip("-")
    parts = s.split("-")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(raw)
    y, m, d = (int(p) for p in parts)
    if not 1880 <= y <= 2200:
        raise ValueError(raw)
    return dt.date(y, m, d)


class WholeNumberField(StringField):
    """A whole number typed by a person (full-width digits accepted), with an optional minus sign."""

    def __init__(self, label=None, validators=None, lo: int = 0, hi: int = 999_999, signed: bool = False, **kw):
        super().__init__(label, validators, **kw)
        self.lo, self.hi, self.signed = lo, hi, signed

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        self._error = None
        text = self.raw.strip(" \u3000")
        if not text:
            return
        negative = False
        if self.signed and text[:1] in ("-", "－", "−"):
            negative, text = True, text[1:]
        try:
            value = parse_small_int(text, lo=0, hi=max(abs(self.lo), abs(self.hi)))
        except ValueError as e:
            self._error = str(e)
            return
        value = -value if negative else value
        if not self.lo <= value <= self.hi:
            self._error = str(_l("Please enter a number from %(lo)s to %(hi)s.", lo=self.lo, hi=self.hi))
            return
        self.data = value

    def _value(self):
        if self.data is not None:
            return str(self.data)
        return getattr(self, "raw", "") or ""

    def pre_validate(self, form):
        if getattr(self, "_error", None):
            raise StopValidation(self._error)  # kept past DataRequired, as for dates


class ClockField(StringField):
    """A time of day typed as 23:00, 23：00, 2300 or 23点."""

    def _value(self):
        if isinstance(self.data, dt.time):
            return self.data.strftime("%H:%M")
        return self.raw_data[0] if self.raw_data else ""

    def process_formdata(self, valuelist):
        self.data, self._bad = None, False
        raw = ((valuelist[0] if valuelist else "") or "").strip()
        if not raw:
            return
        text = raw.translate(str.maketrans("０１２３４５６７８９：", "0123456789:")).replace("点", ":").rstrip(":")
        if ":" not in text and len(text) in (3, 4):
            text = f"{text[:-2]}:{text[-2:]}"
        hours, _sep, minutes = text.partition(":")
        minutes = minutes or "0"
        if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()
                and len(hours) <= 2 and len(minutes) <= 2 and int(hours) <= 24 and int(minutes) <= 59):
            self._bad = True
            return
        # 24:00 is how the county rule writes midnight (24:00–05:00)
        self.data = dt.time(0, 0) if (int(hours), int(minutes)) == (24, 0) else dt.time(int(hours) % 24, int(minutes))
        if int(hours) == 24 and int(minutes):
            self._bad, self.data = True, None

    def pre_validate(self, form):
        if getattr(self, "_bad", False):
            raise StopValidation(_l("Please enter a time like 23:00."))  # not cleared by DataRequired


class PhotoField(FileField):
    """A photo from the phone or camera, stored through app.photos.save_photo, which decides by the bytes
    (JPEG, PNG or HEIC): no check of the file name here. `accept` only helps the phone offer its photos."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"accept": PHOTO_ACCEPT})
        super().__init__(label, validators, **kwargs)


#: the types a photo field offers to choose (HEIC: iPhones, some Android phones)
PHOTO_ACCEPT = "image/jpeg,image/png,image/heic,image/heif"


#: WTForms' own messages (a number field's "Not a valid integer value.") per locale, read once per process
_WTFORMS_CATALOGS: dict[str, support.Translations] = {}


def _wtforms_catalog() -> support.Translations:
    locale = get_locale()
    key = str(locale)
    catalog = _WTFORMS_CATALOGS.get(key)
    if catalog is None:
        catalog = _WTFORMS_CATALOGS[key] = support.Translations.load(messages_path(), [locale], domain="wtforms")
    return catalog


class _Catalog:
    """WTForms' gettext/ngettext over the request's locale, from the catalogue read once per process."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalog().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog().ungettext(singular, plural, n)


_CATALOG = _Catalog()


class Form(FlaskForm):
    """Every form of the app: a FlaskForm (CSRF, the request's data) whose WTForms messages come from a
    catalogue read once per process. Flask-WTF reads it from disk again on every request that builds a
    form (~0.3 ms: a tenth of the counter's check, bench figure 3)."""

    class Meta:
        def get_translations(self, form):
            return _CATALOG


class IdempotentForm(Form):
    """A form that moves points: it carries a key made when it was rendered (a resubmit is harmless)."""

    idempotency_key = HiddenField()

    def ensure_key(self) -> None:
        if not self.idempotency_key.data:
            self.idempotency_key.data = new_key()

    def validate_idempotency_key(self, field):
        if not usable_key(field.data):
            raise ValidationError(_l("This form is incomplete; please reload the page."))
