"""Print documents: render a printables/ template and turn it into a PDF with WeasyPrint.

This is the one way the app prints (docs/architecture.md, "Printing"). WeasyPrint only ever reads files from
printables/ and app/static/ (plus data: URLs): whatever a clerk or villager typed cannot make it read
/etc/passwd or call a LAN address (WeasyPrint fetches whatever URL a document names: an SSRF risk). Fonts come from fontconfig
(fonts-noto-cjk), not through the fetcher.

WeasyPrint is imported on the first print, not at start-up (the import takes about 0.9 s), and one
FontConfiguration serves every document of the process (measured: about a third of the memory of one per document).
"""
from __future__ import annotations

import atexit
import gc
import logging
import mimetypes
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import Response, render_template
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import Markup

from .config import PRINTABLES_DIR

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: the only folders a print document may read from
ALLOWED_ROOTS: tuple[Path, ...] = (PRINTABLES_DIR.resolve(), STATIC_DIR.resolve())

_import_lock = threading.Lock()
_render_lock = threading.Lock()
_weasy: dict[str, Any] = {}

#: Test-only observers of the layout: each is called as ``observer(template_name, document)`` with the laid-out
#: WeasyPrint Document of every print (template_name None for html_documents_to_pdf's documents), so the print
#: gate (tests/print_checks.py) can check every box against its page. Empty in production: nothing is called.
RENDER_OBSERVERS: list[Callable[[str | None, Any], None]] = []


class FetchRefused(ValueError):
    """A print document asked for a URL outside printables/ and app/static/."""


def _weasyprint() -> dict[str, Any]:
    """Import WeasyPrint once and build the process-wide FontConfiguration and fetcher class."""
    if not _weasy:
        with _import_lock:
            if not _weasy:
                # imported on the first print, not for a cycle: the import takes ~0.9 s (see the top)
                import weasyprint
                from weasyprint.text.fonts import FontConfiguration
                from weasyprint.urls import URLFetcher, URLFetcherResponse

                class LockedFetcher(URLFetcher):
                    """data: URLs, and file: URLs inside the allowed folders; nothing else."""

                    def __init__(self, roots: Iterable[Path] = ALLOWED_ROOTS):
                        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, timeout=5)
                        self.roots = tuple(Path(r).resolve() for r in roots)

                    def fetch(self, url, headers=None):
                        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
                        if scheme == "data":
                            return super().fetch(url, headers)
                        if scheme != "file":
                            raise FetchRefused(f"refused to fetch {url[:200]!r}: only data: and local files")
                        path = allowed_path(url, self.roots)
                        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                        # read the file ourselves: urllib never sees the URL, so it cannot reinterpret it
                        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mime})

                _weasy.update(HTML=weasyprint.HTML, CSS=weasyprint.CSS, font_config=FontConfiguration(),
                              Fetcher=LockedFetcher)
                # drop the FontConfiguration before interpreter shutdown: its __del__ removes the temporary
                # files of @font-face fonts and fails noisily once the os module is gone
                atexit.register(_weasy.clear)
    return _weasy


def allowed_path(url: str, roots: Iterable[Path] = ALLOWED_ROOTS) -> Path:
    """The file a file: URL names, if it is a regular file inside one of `roots` (symlinks resolved).

    :raise FetchRefused: anything else, including any ``..`` segment even when it would stay inside.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        raise FetchRefused(f"refused to fetch {url[:200]!r}: not a local file")
    raw = unquote(parts.path)
    if not raw.startswith("/") or "\x00" in raw or "\\" in raw or ".." in raw.split("/"):
        raise FetchRefused(f"refused to fetch {url[:200]!r}: path escapes")
    try:
        path = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise FetchRefused(f"refused to fetch {url[:200]!r}: {type(exc).__name__}") from None
    if not any(path.is_relative_to(root) for root in roots) or not path.is_file():
        raise FetchRefused(f"refused to fetch {url[:200]!r}: outside printables/ and app/static/")
    return path


def locked_fetcher(roots: Iterable[Path] = ALLOWED_ROOTS):
    """A WeasyPrint URL fetcher limited to data: URLs and files inside `roots`."""
    return _weasyprint()["Fetcher"](roots)


# --- template helpers -----------------------------------------------------------------------------

def _css_string(text: str) -> str:
    """Quote text as a CSS string that cannot end the string, the rule or the <style> element."""
    out = []
    for ch in text:
        if ch in '"\\<>' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def page_counter_css() -> Markup:
    """The CSS `content` value for the footer, e.g. "第 " counter(page) " 页 / 共 " counter(pages) " 页"."""
    text = _("Page %(page)s of %(pages)s", page="\x01", pages="\x02")
    pieces = re.split(r"([\x01\x02])", text)
    css = []
    for piece in pieces:
        if piece == "\x01":
            css.append("counter(page)")
        elif piece == "\x02":
            css.append("counter(pages)")
        elif piece:
            css.append(_css_string(piece))
    return Markup(" ".join(css))  # noqa: S704  (CSS strings quoted and escaped by _css_string)


def long_date(value) -> str:
    """A date written out, as on a notice: 2026年11月30日 / November 30, 2026."""
    return "" if value is None else format_date(value, "long")


PRINT_HELPERS = {"page_counter_css": page_counter_css, "long_date": long_date}


# --- rendering ------------------------------------------------------------------------------------

def _lay_out(html: str, stylesheets: Iterable[Any] = ()):
    """Lay one HTML document out (call under _render_lock); `stylesheets` are parsed CSS applied as user
    stylesheets (html_documents_to_pdf's shared ones)."""
    wp = _weasyprint()
    return wp["HTML"](string=html, base_url=str(PRINTABLES_DIR) + "/",
                      url_fetcher=wp["Fetcher"]()).render(font_config=wp["font_config"], stylesheets=list(stylesheets))


def _write(template_name: str | None, document, started: float, how: str = "", *, parts=None) -> bytes:
    """Show the final layout to the observers (tests only; none in production) and write its PDF.

    `parts`: the documents `document` was joined from (a batch), shown to the observers one by one: each
    keeps its own page numbers."""
    for observe in RENDER_OBSERVERS:
        for part in parts or [document]:
            observe(template_name, part)
    pdf = document.write_pdf()
    log.info("printed %s%s: %d bytes in %.0f ms", template_name or "a batch", how, len(pdf),
             (time.perf_counter() - started) * 1000)
    return pdf


def render_pdf(template_name: str, **context: Any) -> bytes:
    """Render printables/<template_name> with Flask's render_template and return the PDF bytes."""
    html = render_template(f"printables/{template_name}", **PRINT_HELPERS, **context)
    started = time.perf_counter()
    # one document at a time per process: the shared FontConfiguration (Pango/fontconfig state)
    # is not known to be thread-safe, and a threaded server could otherwise render two at once
    with _render_lock:
        # render + write_pdf is what HTML.write_pdf does; the laid-out document is kept for the observers
        return _write(template_name, _lay_out(html), started)


def render_roll_pdf(template_name: str, page_name: str = "receipt58", **context: Any) -> bytes:
    """Render a receipt for a paper roll, its page exactly as long as its content.

    CSS has no auto page height, so the document is laid out twice: first on a page far longer than any receipt
    (the named page's width, ROLL_PROBE_MM long), where the root box's laid-out bottom edge plus the page's bottom
    margin is the length the content needs; then again on a page of that length. A receipt longer than the probe
    keeps the probe's pages.
    """
    html = render_template(f"printables/{template_name}", **PRINT_HELPERS, **context)
    started = time.perf_counter()

    def sized(height: str) -> str:
        # the size goes last in the document's head: an author rule after print.css's, so it wins
        rule = f"<style>@page {page_name} {{ size: {ROLL_WIDTH_MM}mm {height} }}</style>"
        return html.replace("</head>", rule + "</head>", 1)

    with _render_lock:
        doc = _lay_out(sized(f"{ROLL_PROBE_MM}mm"))
        if len(doc.pages) == 1:
            doc = _lay_out(sized(f"{content_height(doc.pages[0]):.2f}px"))
        return _write(template_name, doc, started, " on a roll")


def render_pdf_in_sheets(template_name: str, pages_per_sheet: int, **context: Any) -> bytes:
    """Render a document whose page count must be a multiple of `pages_per_sheet` (a folded booklet: 4).

    The template gets `blank_pages` (0 at first) and lays out that many blank pages at its end. When the
    first layout's page count is not a multiple, the document is laid out again with the missing blank
    pages, so every footer's 共 y 页 counts them; only the final layout is written (a second layout, no
    second write, and only when pages are missing).
    """
    started = time.perf_counter()

    def html(blank: int) -> str:
        return render_template(f"printables/{template_name}", **PRINT_HELPERS, **context, blank_pages=blank)

    with _render_lock:
        document = _lay_out(html(0))
        missing = -len(document.pages) % pages_per_sheet
        if missing:
            document = _lay_out(html(missing))
        return _write(template_name, document, started, f" in sheets of {pages_per_sheet} ({missing} blank)")


def render_pdf_first_fit(template_name: str, variants: list[dict[str, Any]], max_pages: int,
                         **context: Any) -> bytes:
    """Lay the template out with each variant of the context in turn (e.g. a type size), and write the first
    that takes at most `max_pages` pages, else the last; the trials are layouts only, never written."""
    started = time.perf_counter()
    with _render_lock:
        for variant in variants:
            document = _lay_out(render_template(f"printables/{template_name}", **PRINT_HELPERS, **context,
                                                **variant))
            if len(document.pages) <= max_pages:
                break
        return _write(template_name, document, started, f" ({variant})")


#: the roll's width and the probe page's length (render_roll_pdf), in mm
ROLL_WIDTH_MM = 58
ROLL_PROBE_MM = 2000


def content_height(page) -> float:
    """The height a laid-out page needs (CSS px): its root box's bottom edge plus the page's bottom margin,
    rounded up to a whole px so the last line never spills onto a second page."""
    box = page._page_box
    root = box.children[0]
    return float(int(root.position_y + root.margin_height() + box.margin_bottom) + 1)


def render_html(template_name: str, **context: Any) -> str:
    """Render printables/<template_name> to HTML with the print helpers (for documents printed in bulk)."""
    return render_template(f"printables/{template_name}", **PRINT_HELPERS, **context)


_shared_sheets: dict[tuple[str, int], Any] = {}


def _shared_sheet(name: str):
    """printables/<name> parsed once per process (again if the file changed)."""
    path = PRINTABLES_DIR / name
    key = (name, path.stat().st_mtime_ns)
    sheet = _shared_sheets.get(key)
    if sheet is None:
        wp = _weasyprint()
        sheet = _shared_sheets[key] = wp["CSS"](filename=str(path), url_fetcher=wp["Fetcher"](),
                                                font_config=wp["font_config"])
    return sheet


def html_documents_to_pdf(htmls: list[str], *, shared_css: tuple[str, ...] = ()) -> bytes:
    """Lay out each HTML as its own document and write all their pages as one PDF.

    Each document keeps its own page numbers (第 x 页 / 共 y 页 per statement), while the fonts are
    subset once for the whole file: the batch lever of docs/architecture.md, "Printing" (about 100 documents per
    call; never thousands, all their layout stays in memory until the write).

    `shared_css`: printables/ stylesheets the documents link to (``<link rel="stylesheet" href="print.css">``)
    that are parsed once per process instead of once per document (a third of a one-page statement's CPU,
    bench figure 4). They are taken out of each document and applied as user stylesheets, in the order
    given: the same cascade as long as no later file overrides a document's own <style> rules (those
    now always win), which holds for printables whose <style> blocks only add to the linked files.
    """
    started = time.perf_counter()
    sheets = [_shared_sheet(name) for name in shared_css]
    if shared_css:
        links = [f'<link rel="stylesheet" href="{name}">' for name in shared_css]
        stripped = []
        for html in htmls:
            for link in links:
                html = html.replace(link, "")
            stripped.append(html)
        htmls = stripped
    with _render_lock:
        docs = [_lay_out(html, sheets) for html in htmls]
        pages = [page for doc in docs for page in doc.pages]
        return _write(None, docs[0].copy(pages), started, f" of {len(docs)} documents, {len(pages)} pages",
                      parts=docs)


# --- a process pool's work (app.statements.batch.ChunkPrinter) ------------------------------------------------
# Kept here, not beside the pool: a spawned worker imports the module of the function it runs, and this one
# needs only WeasyPrint (a worker importing app.statements.batch loaded every feature's models: 0.7 s of CPU
# per worker, bench figure 4).

def write_documents(htmls: list[str], out_path: str, *, shared_css: tuple[str, ...] = ()) -> str:
    """html_documents_to_pdf written to `out_path`, in a worker of a process pool; returns the path.

    Python's cycle collector is off while the documents are laid out and written: every page's boxes stay
    in memory until the write anyway, so each collection walked the growing trees again for nothing (about
    a tenth of a worker's CPU, bench figure 4). One collection afterwards frees them; the peak memory grows
    by about 50 MiB for 50 one-page statements.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        Path(out_path).write_bytes(html_documents_to_pdf(htmls, shared_css=shared_css))
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()
    return out_path


def warm_up(shared_css: tuple[str, ...] = ()) -> None:
    """A pool worker's first job: import WeasyPrint and parse the shared stylesheets before any document."""
    for name in shared_css:
        _shared_sheet(name)
    _weasyprint()
    gc.freeze()  # what the worker keeps for its life is never walked by a collection again


_UNSAFE = re.compile(r'[\\/:*?"<>|;,%\'`]')


def _safe_filename(name: str, ext: str = "pdf") -> str:
    """A file name with no path, quote, separator or control character, at most 120 characters, ending
    in `.ext` (added when the name does not already end so)."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join("_" if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in name)
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix.lower() != ext:
        stem = name
    stem = stem[:119 - len(ext)].strip(" ._")
    return f"{stem or 'document'}.{ext}"


def _ascii_filename(name: str, ext: str = "pdf") -> str:
    stem = _safe_filename(name, ext)[:-len(ext) - 1]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem.encode("ascii", "ignore").decode()).strip("._-")
    return f"{stem or 'document'}.{ext}"


def content_disposition(download_name: str, *, ext: str, ascii_name: str | None = None) -> str:
    """An attachment header with the UTF-8 file name (RFC 5987 filename*) and an ASCII fallback for old
    clients, both cleaned of paths, quotes and control characters and ending in `.ext`."""
    name = _safe_filename(download_name, ext)
    fallback = _ascii_filename(ascii_name or name, ext)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_response(body: Any, download_name: str, *, mimetype: str, ext: str,
                      ascii_name: str | None = None) -> Response:
    """Send bytes (or an iterable / wrapped file) as a download with a Chinese file name; never cached."""
    resp = Response(body, mimetype=mimetype, direct_passthrough=not isinstance(body, (bytes, str)))
    resp.headers["Content-Disposition"] = content_disposition(download_name, ext=ext, ascii_name=ascii_name)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def pdf_response(pdf: bytes, download_name: str, *, ascii_name: str | None = None) -> Response:
    """Send a PDF as a download: UTF-8 file name with an ASCII fallback, never cached."""
    return download_response(pdf, download_name, mimetype="application/pdf", ext="pdf", ascii_name=ascii_name)
