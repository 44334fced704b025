"""The app's form base: every form is an app.forms.Form, whose WTForms messages follow the request's
language from catalogues read once per process."""
from __future__ import annotations

from flask_babel import force_locale
from flask_wtf import FlaskForm
from wtforms import SelectField

from app import forms


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_form_of_the_app_is_built_on_the_app_form(app):
    mine = [c for c in _all_subclasses(FlaskForm) if c.__module__.startswith("app.")]
    assert len(mine) > 50  # the app's forms are loaded with its blueprints
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in mine
                     if c is not forms.Form and not issubclass(c, forms.Form))
    assert outside == [], "forms that read WTForms' catalogue from disk on every request"


class _ChoiceForm(forms.Form):
    kind = SelectField(choices=lambda: forms.options([("a", "A"), ("b", "B")]))


def _choice_error(locale: str) -> str:
    with force_locale(locale):
        form = _ChoiceForm(formdata=None, data={"kind": "nonsense"}, meta={"csrf": False})
        form.kind.data = "nonsense"
        assert not form.validate()
        return form.kind.errors[0]


def test_wtforms_messages_follow_the_language_of_each_request(app):
    with app.test_request_context("/"):
        # Chinese, English, Chinese again in one process: each locale has its own catalogue
        assert _choice_error("zh_Hans_CN") == "不是有效的选择。"
        assert _choice_error("en") == "Not a valid choice."
        assert _choice_error("zh_Hans_CN") == "不是有效的选择。"
    assert set(forms._WTFORMS_CATALOGS) >= {"zh_Hans_CN", "en"}
