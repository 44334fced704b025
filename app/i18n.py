"""Keep the compiled interface catalogs in step with the translations shipped in the repository, and render
lazy translations escaped."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g
from flask_babel import Domain, LazyString
from markupsafe import Markup, escape

log = logging.getLogger(__name__)


def _escaped_html(self) -> Markup:
    return escape(str(self))


def escape_lazy_strings() -> None:
    """Make Jinja escape flask_babel's lazy strings like any other text.

    LazyString.__html__ returns the text unescaped, so Jinja took every lazy_gettext message (a form's
    error, a label) for safe HTML: the Chinese "请不要输入 <script> 之类的网页符号" opened a real <script>
    element and swallowed the rest of the page, and a lazy message formatted with user text would have
    been an XSS hole (T9). Idempotent.
    """
    LazyString.__html__ = _escaped_html


def ensure_compiled(translations_dir: Path) -> None:
    """Compile each messages.po whose .mo is missing or older, so the app is never silently English.

    `make translations` does the same; this covers a server started without make (gunicorn,
    waitress on a Windows PC). The .mo is written to a temporary file and renamed, so a worker
    starting at the same moment never reads half a file.
    """
    for po in translations_dir.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as fh:
                catalog = read_po(fh)
            fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo)
        except OSError as e:  # a read-only install: run `make translations` as its owner
            log.warning("could not compile %s: %s", po, e)



class RequestDomain(Domain):
    """Flask-Babel's message domain, looking the translations up once per app context and locale.

    Flask-Babel finds the translations again for every string (the request's locale, then its domain,
    through several context-local lookups: ~17 µs a call) and a page asks 50–100 times (its menus,
    labels, lazy strings): a third of a kiosk page's own work (bench figure 1). The translations found
    are kept on `g` with the locale they were found for; a new locale (force_locale, refresh(), the
    language switch) looks them up again.
    """

    def get_translations(self):
        try:
            ctx = g._get_current_object()
        except RuntimeError:  # no app context: Flask-Babel's own answer (no translation)
            return super().get_translations()
        babel_ctx = ctx.__dict__.get("_flask_babel")
        locale = getattr(babel_ctx, "babel_locale", None)
        kept = ctx.__dict__.get("_xy_translations")
        if kept is not None and locale is not None and kept[0] is locale:
            return kept[1]
        translations = super().get_translations()
        babel_ctx = ctx.__dict__.get("_flask_babel")
        ctx._xy_translations = (getattr(babel_ctx, "babel_locale", None), translations)
        return translations


def install_request_domain(app, babel) -> None:
    """Make RequestDomain the default domain (every gettext, lazy string and template string goes through it)."""
    domain = RequestDomain()
    babel.domain_instance = domain  # a cached_property of Flask-Babel's Babel: this value is used from now on
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
