"""Keep the compiled interface catalogs in step with the translations shipped in the repository."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)


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


def page_gettext() -> dict:
    """A template context processor: the templates' gettext / ngettext bound to this render's translations.

    Flask-Babel's template callables look the translations up again for every string (its
    get_translations walks the request's locale and domain: ~17 µs a call, ~50 calls a page, a third of
    a kiosk page's own work). `_()` in a template resolves `gettext` from the context first, so one
    lookup per render serves the whole page; an imported macro file (no context) keeps Flask-Babel's.
    Same semantics as the i18n extension's newstyle callables (autoescape, %-formatting).
    """
    from flask_babel import get_translations
    from jinja2.ext import _make_new_gettext, _make_new_ngettext

    translations = get_translations()
    return {"gettext": _make_new_gettext(translations.ugettext),
            "ngettext": _make_new_ngettext(translations.ungettext)}
