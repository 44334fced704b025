"""Keep the compiled interface catalogs in step with the translations shipped in the repository, and render
lazy translations escaped."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import LazyString
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
