"""T9: stored-XSS canaries in every free-text column, then every page each role can reach.

Pass figures (the reliability design, §5): 0 unescaped canaries in any response (printables included:
the HTML each PDF is made from is captured on its way to WeasyPrint), a CSP header on 100% of HTML
responses, 0 `javascript:` or `data:` URLs from user data in href/src/action.

Every text column of the seeded world (tests/gates/fuzz_world.py) that holds free text gets, row by row, a
unique canary: `"><svg/onload=x{N}>` (N names the table, column and row) or, on every third row,
`javascript:x{N}` (for fields that end up in links). Columns that hold codes, hashes, statuses or file
names are left out (`NOT_FREE_TEXT`); append-only tables are written with their triggers off. Then each
role requests every GET route of the URL map (arguments from the seeded world), then follows the links of
the pages it gets, up to `MAX_PAGES` more per role (all of them in `make gates`).
"""
from __future__ import annotations

import html
import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.extensions import db
from tests.gates.form_table import ARG_FUNCS, ARG_SQL
from tests.gates.fuzz_world import ROLES, gates_full

#: column names (any table) that are not free text: identifiers, codes, hashes, statuses, file names
NOT_FREE_TEXT = re.compile(
    r"(^|_)(hash|hmac|token|key|code|username|status|kind|role|action|level|type|file|masked|search_keys|"
    r"source|ref|request_id|digest|base_url|runner|star_bands|effect|system_key|object_type|details|"
    r"prev_hash|receipt_no|sex|relation|unit|direction|numbering|paper|purpose|priority|attendance|"
    r"decision|channel|intake|dispute_type|risk|applies_to|cap_period|amount_unit|performed|to_level|"
    r"from_level|handed_to|escalated_to|body|assembly_kind|step|result_file|error|year_policy|"
    r"spendable_from|condition|tags|number|label|batch|idempotency|payload|id_)")
CANARY = '"><svg/onload=x{n}>'
JS_CANARY = "javascript:x{n}"
RAW = re.compile(r"<svg/onload=x(\d+)>")
MAX_PAGES = 10_000 if gates_full() else 30
#: GET routes that are not pages to crawl
SKIP_ENDPOINTS = {"static", "auth.logout", "kiosk.enrol"}
EXTRA_ARGS = {
    "donation_id": "SELECT min(id) FROM donations", "stocktake_id": "SELECT min(id) FROM stocktakes",
    "visit_id": "SELECT min(id) FROM grid_visits", "finding_id": "SELECT min(id) FROM patrol_findings",
    "job_id": "SELECT min(id) FROM statement_jobs",
}


# --- the canaries ----------------------------------------------------------------------------------

def _free_text_columns():
    for t in db.metadata.sorted_tables:
        checked = " ".join(str(c.sqltext) for c in t.constraints if isinstance(c, sa.CheckConstraint))
        for c in t.columns:
            if not isinstance(c.type, (sa.String, sa.Text)) or isinstance(c.type, sa.Enum):
                continue
            if NOT_FREE_TEXT.search(c.name) or re.search(rf"\b{c.name}\b", checked):
                continue
            if c.type.length is not None and c.type.length < 24:
                continue
            yield t, c


def plant_canaries(world) -> dict[int, str]:
    """Write a unique canary into every free-text column of every row; return N → "table.column#id"."""
    where: dict[int, str] = {}
    n = 0
    db.session.remove()
    with db.engine.begin() as conn:
        triggers = []
        if world.backend == "sqlite":
            triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            for name, _sql in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for t, c in _free_text_columns():
            pk = list(t.primary_key.columns)
            if len(pk) != 1:
                continue
            ids = conn.execute(sa.select(pk[0])).scalars().all()
            for i, rid in enumerate(ids):
                n += 1
                where[n] = f"{t.name}.{c.name}#{rid}"
                value = (JS_CANARY if i % 3 == 2 else CANARY).format(n=n)
                conn.execute(t.update().where(pk[0] == rid).values({c.name: value}))
        for _name, sql in triggers:
            conn.exec_driver_sql(sql)
    return where


# --- the pages -----------------------------------------------------------------------------------

_URL_ATTR = re.compile(r"""<(\w+)[^>]*?\s(href|src|action|formaction|poster|srcset|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""",
                       re.IGNORECASE)


def url_attributes(body: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every URL-carrying attribute (a regex, not a parser: pages are large)."""
    out = []
    for m in _URL_ATTR.finditer(body):
        value = m.group(3)
        if value[:1] in "\"'":
            value = value[1:-1]
        out.append((m.group(1).lower(), m.group(2).lower(), html.unescape(value)))
    return out


def _bad_url(value: str) -> bool:
    v = re.sub(r"[\x00-\x20]", "", value).lower()
    # the app's own data: URLs are images (the QR codes of stickers and cards); user text never becomes one
    return v.startswith(("javascript:", "vbscript:")) or (v.startswith("data:") and not v.startswith("data:image/")) \
        or bool(v.startswith("data:") and re.search(r"(onload|javascript)(=|%3d|:|%3a)x\d+", v))


def _start_urls(world, role) -> list[str]:
    from flask import url_for

    urls = []
    with db.engine.connect() as conn, world.app.test_request_context("/"):
        for rule in world.app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS:
                continue
            args, ok = {}, True
            for name in rule.arguments:
                spec = EXTRA_ARGS.get(name) or ARG_SQL.get(name)
                if name in ARG_FUNCS:
                    args[name] = ARG_FUNCS[name](conn)
                elif spec is not None:
                    args[name] = conn.execute(sa.text(spec)).scalar()
                    ok = ok and args[name] is not None
                else:
                    ok = False
            if ok:
                urls.append(url_for(rule.endpoint, **args))
    return urls


class Printed:
    """Stands in for WeasyPrint: keeps the HTML of every document printed, answers a tiny PDF."""

    def __init__(self):
        self.htmls: list[str] = []
        outer = self

        # a laid-out page as app.printing.content_height reads it (the roll receipts measure their length)
        root = SimpleNamespace(position_y=0, margin_height=lambda: 100.0)
        page = SimpleNamespace(_page_box=SimpleNamespace(children=[root], margin_bottom=0))

        class Doc:
            def __init__(self):
                self.pages = [page]

            def copy(self, pages):
                return self

            def write_pdf(self, *a, **kw):
                return b"%PDF-1.4\n%canary-sweep\n"

        class HTML:
            def __init__(self, string=None, **kw):
                outer.htmls.append(string or "")

            def write_pdf(self, *a, **kw):
                return Doc().write_pdf()

            def render(self, *a, **kw):
                return Doc()

        self.fake = {"HTML": HTML, "Fetcher": lambda *a, **kw: None, "font_config": None}


def crawl(world, role: str, printed: Printed, report: dict) -> None:
    client = world.client(role)
    queue = _start_urls(world, role)
    # every GET route once, then at most MAX_PAGES more pages found by following links
    limit = len(queue) + MAX_PAGES
    seen: set[str] = set()
    while queue and len(seen) < limit:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path in seen or parts.path.startswith(("/static/", "/logout", "/kiosk/enrol")):
            continue
        seen.add(path)
        before = len(printed.htmls)
        r = client.get(path)
        report["pages"] += 1
        if r.status_code >= 500:
            report["errors"].append((role, path, r.status_code))
        bodies = []
        if r.mimetype == "text/html":
            report["html"] += 1
            if not r.headers.get("Content-Security-Policy"):
                report["no_csp"].append((role, path))
            bodies.append((path, r.get_data(as_text=True)))
        bodies += [(f"{path} (printed)", h) for h in printed.htmls[before:]]
        report["printed"] += len(printed.htmls) - before
        for where, body in bodies:
            for m in RAW.finditer(body):
                report["raw"].append((role, where, int(m.group(1)), body[max(0, m.start() - 80):m.end() + 20]))
            attrs = url_attributes(body)
            for tag, attr, value in attrs:
                if _bad_url(value):
                    report["bad_urls"].append((role, where, tag, attr, value[:80]))
            if r.mimetype == "text/html" and where == path:
                queue.extend(v for tag, attr, v in attrs if tag == "a" and attr == "href" and not v.startswith("#"))


# --- the test ------------------------------------------------------------------------------------

def test_lazy_messages_are_escaped(world):
    """flask_babel's LazyString rendered raw: the Chinese message about <script> opened a real <script>."""
    client = world.client("cashier")
    r = client.post("/shop/products/new", data={"csrf_token": world.csrf_token(client), "name": "<b>x</b>",
                                                "unit": "个", "points": "5"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "&lt;script&gt;" in html
    assert "<script> " not in html and "<script>;" not in html
    assert not world.changed()


def test_stored_canaries_never_come_back_unescaped(world, monkeypatch):
    from app import printing

    where = plant_canaries(world)
    assert len(where) > 500, "the canaries reached too few rows to mean anything"
    printed = Printed()
    monkeypatch.setattr(printing, "_weasyprint", lambda: printed.fake)
    report = {"pages": 0, "html": 0, "printed": 0, "raw": [], "bad_urls": [], "no_csp": [], "errors": []}
    for role in ROLES:
        crawl(world, role, printed, report)
    print(f"\nT9 {world.backend}: {len(where)} canaries; {report['pages']} pages, {report['html']} HTML, "
          f"{report['printed']} printed documents")
    raw = [(role, page, where.get(n), snippet) for role, page, n, snippet in report["raw"]]
    assert raw == [], "unescaped canaries"
    assert report["bad_urls"] == [], "javascript:/data: URLs in pages"
    assert report["no_csp"] == [], "HTML without a Content-Security-Policy"
    assert report["errors"] == [], "pages that failed with stored canaries"
    assert report["html"] > 100 and report["printed"] > 0
