"""Interface language: Simplified Chinese by default, English on request, and a complete catalog.

The catalog lives in app/translations/zh_Hans_CN/ (Flask-Babel turns zh_CN into zh_Hans_CN and
silently ignores a zh_CN/ folder). Refresh it after adding or changing UI strings:

    make i18n-update        # messages.pot + merge into the .po; lists what still needs translating
    (translate the empty msgstr entries in app/translations/zh_Hans_CN/LC_MESSAGES/messages.po)
    make translations       # compile the .mo (gitignored)
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# Same options as I18N_EXTRACT in the Makefile (keep them in step). --ignore-dirs matters: without it
# Babel skips every directory starting with "_", and templates/_macros/ would silently go missing.
EXTRACT_ARGS = ["-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
                "--ignore-dirs", ".* __pycache__ node_modules instance migrations tests"]

# a named printf placeholder with optional flags, width and precision: %(name)s, %(points)+d, %(x).1f
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
CJK = re.compile(r"[\u3400-\u9fff]")
# ASCII punctuation that Chinese text writes full-width (，；：！？（）); allowed only between ASCII
# letters/digits, as in "13:30" or "a,b"
HALF_WIDTH = re.compile(r"(?<![A-Za-z0-9])[,;:!?()]|[,;:!?()](?![A-Za-z0-9])")


def ensure_compiled() -> None:
    """Compile the .po when the .mo is missing or older (normally `make translations` did it)."""
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans_CN")
    fd, tmp = tempfile.mkstemp(dir=MO.parent, suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the app may run as another user
        os.replace(tmp, MO)  # atomic: a parallel test run never reads half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalog():
    ensure_compiled()


def read_catalog(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


def key(message) -> tuple:
    return (message.context, message.id)


def show(k: tuple) -> str:
    ctx, mid = k
    text = mid if isinstance(mid, str) else " | ".join(mid)
    return f"[{ctx}] {text}" if ctx else text


def strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def ids(message) -> list[str]:
    return [message.id] if isinstance(message.id, str) else list(message.id)


@pytest.fixture(scope="module")
def catalog():
    assert PO.exists(), f"{PO} is missing: run `make i18n-update`"
    return read_catalog(PO)


@pytest.fixture(scope="module")
def source_keys(tmp_path_factory) -> set[tuple]:
    """Message ids found in the source right now (app/, templates/, printables/)."""
    out = tmp_path_factory.mktemp("i18n") / "source.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", *EXTRACT_ARGS, "-o", str(out), str(ROOT)])
    return {key(m) for m in read_catalog(out) if m.id}


# --- pages ----------------------------------------------------------------------------------------

def test_login_page_is_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN"' in html
    assert "登录" in html
    assert "Log in" not in html
    assert "乡约" in html


def test_switch_to_english_and_back(client):
    """Also guards the locale refresh in app/__init__.py: tests keep one app context pushed, and
    Flask-Babel caches the locale on `g`, so without it the first page fixed the language."""
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "Log in" in html and "登录" not in html

    r = client.get("/lang/zh_Hans_CN?next=/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN"' in html and "登录" in html and "Log in" not in html


def test_language_switch_refuses_unknown_codes_and_foreign_targets(client):
    assert client.get("/lang/fr").status_code == 404
    assert client.get("/lang/zh_CN").status_code == 404
    r = client.get("/lang/en?next=//evil.example/")
    assert r.status_code == 302 and "evil.example" not in r.headers["Location"]


def test_english_persists_across_pages_and_login(client, auth, clerk, village, make_household):
    make_household(village, "001", head="张三丰")
    client.get("/lang/en?next=/login")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    assert auth.login("clerk1").status_code == 302
    for path in ("/", "/registry/households", "/registry/people"):
        html = client.get(path).get_data(as_text=True)
        assert '<html lang="en"' in html, path
        assert "Log out" in html and "退出登录" not in html, path
    households = client.get("/registry/households").get_data(as_text=True)
    assert "Household number" in households and "户号" not in households
    auth.logout()
    assert "Log in" in client.get("/login").get_data(as_text=True)


def test_clerk_pages_are_chinese(clerk_client, village, make_household):
    make_household(village, "001", head="张三丰", members=[("李四", "spouse")], tags=["dibao"])
    html = clerk_client.get("/registry/households").get_data(as_text=True)
    assert '<html lang="zh-CN"' in html
    for text in ("户号", "户主", "住址", "低保户", "退出登录", "乡约"):
        assert text in html, text
    for text in ("Household number", "Log out", "Minimum-living-allowance"):
        assert text not in html, text
    people = clerk_client.get("/registry/people").get_data(as_text=True)
    assert "配偶" in people and "Spouse" not in people


def test_form_errors_are_chinese(client):
    html = client.post("/login", data={"username": "", "password": ""}).get_data(as_text=True)
    assert "This field is required" not in html
    assert "请修改下面标出的内容。" in html or CJK.search(html)


def test_error_pages_are_chinese(client):
    r = client.get("/no-such-page")
    html = r.get_data(as_text=True)
    assert r.status_code == 404
    assert '<html lang="zh-CN"' in html and "抱歉" in html and "返回首页" in html
    assert "这个页面不存在" in html and "This page does not exist" not in html


def test_expired_form_page_is_kind_and_chinese(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    r = client.post("/login", data={"username": "x", "password": PASSWORD})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "表单已过期" in html and "刷新页面" in html
    assert "expired" not in html


# --- the catalog ----------------------------------------------------------------------------------

def test_catalog_folder_is_zh_Hans_CN():
    """Flask-Babel looks in zh_Hans_CN/, never zh_CN/ (it resolves zh_CN to zh_Hans_CN)."""
    assert not (TRANSLATIONS / "zh_CN").exists()
    assert not (TRANSLATIONS / "zh").exists()
    assert PO.exists()


def test_every_message_is_translated(catalog):
    todo = [show(key(m)) for m in catalog if m.id and (m.fuzzy or not all(s.strip() for s in strings(m)))]
    assert not todo, ("untranslated or fuzzy in messages.po (translate them, then `make translations`):\n  "
                      + "\n  ".join(todo))


def stray_percent(text: str) -> bool:
    return "%" in PLACEHOLDER.sub("", text).replace("%%", "")


def test_placeholders_survive_translation(catalog):
    bad = []
    for m in catalog:
        if not m.id:
            continue
        wanted = {p.group(0) for i in ids(m) for p in PLACEHOLDER.finditer(i)}
        for s in strings(m):
            got = {p.group(0) for p in PLACEHOLDER.finditer(s)}
            # every %(x)s of the msgid must appear, with the same format (%(points)+d stays +d),
            # and no unknown one (that would raise KeyError)
            if got != wanted:
                bad.append(f"{show(key(m))!r}: msgstr has {sorted(got)}, msgid has {sorted(wanted)}")
            # Jinja's new-style gettext always applies %, so a stray % the msgid lacks breaks the page
            if stray_percent(s) and not any(stray_percent(i) for i in ids(m)):
                bad.append(f"{show(key(m))!r}: stray % in {s!r} (write %% for a literal percent sign)")
    assert not bad, "\n".join(bad)


def test_messages_of_templates_write_a_percent_sign_as_two(catalog):
    """Jinja's new-style gettext formats every message with %, variables or not: "Done (%)" in a template
    answered the English grid report with a 500 (the full XSS crawl found it). A message a template shows
    writes a literal percent sign as %%, in the msgid and in the translation."""
    bad = []
    for m in catalog:
        if not m.id or not any(loc.startswith(("templates/", "printables/")) for loc, _line in m.locations):
            continue
        for text in ids(m) + strings(m):
            if stray_percent(text):
                bad.append(f"{show(key(m))!r}: {text!r}")
    assert not bad, "write %% for a literal percent sign in these template messages:\n" + "\n".join(bad)


def test_chinese_text_uses_full_width_punctuation(catalog):
    bad = []
    for m in catalog:
        for s in strings(m) if m.id else []:
            if CJK.search(s) and (HALF_WIDTH.search(PLACEHOLDER.sub("x", s)) or s.endswith(".")):
                bad.append(f"{show(key(m))!r}: {s!r}")
    assert not bad, "use ，；：！？（）。 in Chinese text:\n" + "\n".join(bad)


def test_catalog_is_up_to_date_with_the_source(catalog, source_keys):
    """A string added to the code or templates must be extracted and translated."""
    in_po = {key(m) for m in catalog if m.id}
    missing = sorted(source_keys - in_po, key=str)
    stale = sorted(in_po - source_keys, key=str)
    assert not missing, (
        "these UI strings are not in messages.po: run `make i18n-update`, translate them in "
        f"{PO.relative_to(ROOT)}, then `make translations`:\n  " + "\n  ".join(show(k) for k in missing))
    assert not stale, ("messages.po has strings that are gone from the source: run `make i18n-update`:\n  "
                       + "\n  ".join(show(k) for k in stale))


def test_pot_is_up_to_date_with_the_source(source_keys):
    in_pot = {key(m) for m in read_catalog(POT) if m.id}
    assert in_pot == source_keys, (
        "app/translations/messages.pot is out of date: run `make i18n-update` and commit it. "
        f"New: {sorted(map(show, source_keys - in_pot))}; gone: {sorted(map(show, in_pot - source_keys))}")


def test_extraction_covers_macros_and_every_place():
    """Regression guard for Babel's default directory filter, which skips templates/_macros/."""
    files = {loc for m in read_catalog(POT) for loc, _line in m.locations}
    assert any(f.startswith("templates/_macros/") for f in files), "templates/_macros/ was not scanned"
    assert any(f.startswith("app/") for f in files) and any(f.startswith("templates/") for f in files)
    assert not [f for f in files if f.split("/")[0] not in ("app", "templates", "printables")]
