"""The seeded world the form fuzzer (T8) and the XSS canary sweep (T9) run in.

One app per test module and database: the migrated schema, the demo village (a small register, every
feature's demo data, one login per role), a mediation case, an enrolled kiosk device with a household
session. `World` logs each role in once (CSRF on), keeps the cookies, and can put the database back to the
state it had after seeding (`restore`) so each fuzz example starts from the same rows:
SQLite copies the seeded file back; PostgreSQL rewrites only the tables that changed (append-only
triggers skipped in replica mode) and resets their sequences.

`fingerprint()` is a hash of every table's rows: a refused submission must leave it unchanged.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app import create_app
from app.db import local_today
from app.extensions import db
from tests.conftest import BACKENDS, BASE_CONFIG, FreshContextClient, _empty_pg
from tests.gates import gates_full, gates_seed

DEMO_PASSWORD = "demo1234"
#: role → demo login (app/demo.py DEMO_LOGINS); "kiosk" = an enrolled device with a household open
ROLE_LOGINS = {"admin": "admin", "township": "township", "clerk": "clerk", "reviewer": "reviewer",
               "cashier": "cashier", "patrol_leader": "patrol", "mediator": "mediator", "grid_worker": "grid"}
ROLES = (*ROLE_LOGINS, "kiosk", "anonymous")


def gate_seed() -> int:
    """The seed of this run's sample (tests.gates: XIANGYUE_GATES_SEED, else the UTC date; rotates daily)."""
    return gates_seed()


class ErrorLog(logging.Handler):
    """Collects the app's ERROR records (an unhandled exception is logged before the 500 page)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


# --- the seeded database -----------------------------------------------------------------------

def _seed_extra() -> None:
    """What the demo lacks: a mediation case with the demo mediator on it, one objection."""

    from app.auth.models import User
    from app.mediation import services as ms
    from app.registry.models import Household, Village
    from app.submission import write_transaction

    with write_transaction():
        village = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
        mediator = db.session.scalar(sa.select(User).where(User.username == "mediator"))
        homes = list(db.session.scalars(sa.select(Household).where(Household.village_id == village.id)
                                        .order_by(Household.id).limit(2)))
        ms.set_head(village, mediator)
        data = ms.CaseData(received_on=local_today(), intake="desk", dispute_type="homestead",
                           summary="两户因宅基地边界的围墙发生争执")
        parties = [ms.PartyData(role="applicant", name=homes[0].head.name, person_id=homes[0].head.id),
                   ms.PartyData(role="respondent", name=homes[1].head.name, person_id=homes[1].head.id)]
        ms.register_case(village, data, parties, mediators=[mediator], actor=mediator)


def _tables(conn) -> list[str]:
    return [t.name for t in db.metadata.sorted_tables]


def fingerprint(conn) -> dict[str, str]:
    """table → hash of its rows (order-independent)."""
    out = {}
    for t in db.metadata.sorted_tables:
        rows = conn.execute(sa.select(t)).all()
        h = hashlib.blake2b(digest_size=16)
        for r in sorted(repr(tuple(r)) for r in rows):
            h.update(r.encode("utf-8", "surrogatepass"))
        out[t.name] = f"{len(rows)}:{h.hexdigest()}"
    return out


@dataclass
class World:
    backend: str
    app: object
    base: Path
    db_path: Path | None = None
    snapshot: Path | None = None
    rows: dict = field(default_factory=dict)       # PostgreSQL: table → rows after seeding
    rows_by_key: dict = field(default_factory=dict)  # PostgreSQL: table → {primary key: row} (one-column keys)
    baseline: dict = field(default_factory=dict)   # table → fingerprint after seeding
    cookies: dict = field(default_factory=dict)    # role → [(name, value)] after logging in
    errors: ErrorLog = field(default_factory=ErrorLog)

    # -- database state --
    def _watch(self):
        """A connection of our own that tells cheaply whether anyone committed a write since `mark()`."""
        if getattr(self, "_watcher", None) is None:
            if self.backend == "sqlite":
                import sqlite3

                self._watcher = sqlite3.connect(self.db_path, isolation_level=None)
            else:
                import psycopg

                url = sa.engine.make_url(str(db.engine.url))
                self._watcher = psycopg.connect(url.set(drivername="postgresql").render_as_string(
                    hide_password=False), autocommit=True)
        return self._watcher

    def mark(self):
        """SQLite: PRAGMA data_version (changes when another connection commits); PostgreSQL: the next
        transaction id (any transaction that writes takes one)."""
        w = self._watch()
        if self.backend == "sqlite":
            return w.execute("PRAGMA data_version").fetchone()[0]
        return w.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())").fetchone()[0]

    def drop_watcher(self):
        if getattr(self, "_watcher", None) is not None:
            self._watcher.close()
            self._watcher = None

    def changed_since(self, mark) -> list[str]:
        """The tables whose rows differ from the seeded ones, or [] at once when nothing was committed."""
        if self.mark() == mark:
            return []
        return self.changed()

    def current(self) -> dict[str, str]:
        db.session.remove()
        with db.engine.connect() as conn:
            return fingerprint(conn)

    def changed(self) -> list[str]:
        now = self.current()
        return sorted(t for t, h in now.items() if self.baseline.get(t) != h)

    def take_snapshot(self) -> None:
        db.session.remove()
        if self.backend == "sqlite":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.engine.dispose()
            self.snapshot = self.base / "seeded.db"
            shutil.copyfile(self.db_path, self.snapshot)
        else:
            with db.engine.connect() as conn:
                self.rows = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
                             for t in db.metadata.sorted_tables}
            self.rows_by_key = {}
            for t in db.metadata.sorted_tables:
                pk = list(t.primary_key.columns)
                if len(pk) == 1:
                    self.rows_by_key[t.name] = {row[pk[0].name]: row for row in self.rows[t.name]}
        self.baseline = self.current()

    def restore(self, tables: list[str] | None = None) -> None:
        """Put the seeded rows back (all tables, or those that changed)."""
        db.session.remove()
        if self.backend == "sqlite":
            db.engine.dispose()
            self.drop_watcher()
            for suffix in ("-wal", "-shm"):
                Path(str(self.db_path) + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.snapshot, self.db_path)
            return
        tables = tables if tables is not None else self.changed()
        if not tables:
            return
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name in tables:
                t = db.metadata.tables[name]
                self._put_back(conn, t)
                for col in t.primary_key.columns:
                    if col.autoincrement is True or (col.autoincrement == "auto" and isinstance(col.type, sa.Integer)
                                                     and len(t.primary_key.columns) == 1):
                        seq = conn.exec_driver_sql(
                            f"SELECT pg_get_serial_sequence('\"{name}\"', '{col.name}')").scalar()
                        if seq:
                            conn.exec_driver_sql(
                                f'SELECT setval(\'{seq}\', COALESCE((SELECT max("{col.name}") FROM "{name}"), 0) + 1, false)')

    def _put_back(self, conn, t) -> None:
        """Make the table hold its seeded rows again, touching only the rows that differ.

        Rewriting a whole table on every accepted example left PostgreSQL a dead copy of each of its rows
        every time: after a few thousand examples the 1,000-row audit_log was 3.6 million dead rows (1.2 GB)
        that every later fingerprint scanned, so each form took longer to fuzz than the one before it.
        """
        name = t.name
        pk = list(t.primary_key.columns)
        if len(pk) != 1:
            conn.exec_driver_sql(f'DELETE FROM "{name}"')
            if self.rows[name]:
                conn.execute(t.insert(), self.rows[name])
            return
        key = pk[0].name
        seeded = self.rows_by_key[name]
        now = {r[key]: r for r in (dict(m) for m in conn.execute(sa.select(t)).mappings())}
        stale = [k for k, row in now.items() if seeded.get(k) != row]
        gone = set(stale) | (seeded.keys() - now.keys())
        missing = [row for k, row in seeded.items() if k in gone]
        for i in range(0, len(stale), 1000):
            conn.execute(t.delete().where(pk[0].in_(stale[i:i + 1000])))
        if missing:
            conn.execute(t.insert(), missing)

    # -- clients --
    def client(self, role: str):
        """A fresh test client carrying the role's cookies from set-up (the session the snapshot knows)."""
        c = self.app.test_client()
        for name, value in self.cookies.get(role, []):
            c.set_cookie(name, value)
        return c

    def csrf_token(self, client) -> str:
        """A valid CSRF token for the client's session (the one a page would have rendered)."""
        with client.session_transaction() as sess:
            raw = sess.get("csrf_token")
            if raw is None:
                raw = hashlib.sha1(os.urandom(64)).hexdigest()
                sess["csrf_token"] = raw
        return URLSafeTimedSerializer(self.app.secret_key, salt="wtf-csrf-token").dumps(raw)


def _login(app, world: World, role: str) -> None:
    c = app.test_client()
    if role == "anonymous":
        c.get("/login")
    elif role == "kiosk":
        from app.kiosk.demo import DEMO_ENROL_CODE, DEMO_PINS
        from app.registry.models import Household

        r = c.post(f"/kiosk/enrol/{DEMO_ENROL_CODE}", data={"csrf_token": world.csrf_token(c)})
        assert r.status_code in (302, 303), r.status_code
        number = db.session.scalar(sa.select(Household.number).order_by(Household.number).limit(1))
        db.session.remove()
        r = c.post("/kiosk/number", data={"csrf_token": world.csrf_token(c), "number": number})
        assert r.status_code == 302, r.get_data(as_text=True)[:500]
        r = c.post("/kiosk/pin", data={"csrf_token": world.csrf_token(c), "pin": DEMO_PINS[0]})
        assert r.status_code == 302 and "/kiosk/pin" not in r.location, r.get_data(as_text=True)[:500]
    else:
        r = c.post("/login", data={"csrf_token": world.csrf_token(c), "username": ROLE_LOGINS[role],
                                   "password": DEMO_PASSWORD})
        assert r.status_code == 302, (role, r.get_data(as_text=True)[:500])
    world.cookies[role] = [(k.key, k.value) for k in c._cookies.values()]


def build_world(backend: str, base: Path, *, sqlite_template: Path | None = None, pg=None,
                households: int = 12) -> World:
    """Migrated schema + demo + extras, every role logged in, snapshot taken. The app context stays pushed."""
    from app.demo import seed_demo

    base.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        db_path = base / "world.db"
        shutil.copyfile(sqlite_template, db_path)
        uri = f"sqlite:///{db_path}"
    else:
        uri, tables = pg
        _empty_pg(uri, tables)
        db_path = None
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(base / "instance"),
                      "WTF_CSRF_ENABLED": True, "WTF_CSRF_SSL_STRICT": False})
    ctx = app.app_context()
    ctx.push()
    # each request in its own app context (and db session), as in production
    app.test_client_class = FreshContextClient
    world = World(backend, app, base, db_path=db_path)
    world.ctx = ctx
    seed_demo(households=households)
    _seed_extra()
    db.session.remove()
    for role in ROLES:
        _login(app, world, role)
    world.take_snapshot()
    app.logger.addHandler(world.errors)
    return world


def close_world(world: World) -> None:
    world.drop_watcher()
    world.app.logger.removeHandler(world.errors)
    db.session.remove()
    db.engine.dispose()
    world.ctx.pop()


__all__ = ["BACKENDS", "ROLES", "World", "build_world", "close_world", "fingerprint", "gate_seed", "gates_full"]


# --- pages: the forms a page shows ----------------------------------------------------------------

@dataclass
class HtmlField:
    name: str
    kind: str                     # text, textarea, select, checkbox, radio, hidden, file, password, number, date, submit
    value: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class HtmlForm:
    action: str
    method: str
    fields: dict[str, HtmlField] = field(default_factory=dict)
    submits: list[tuple[str, str]] = field(default_factory=list)
    multipart: bool = False


class FormScraper(HTMLParser):
    """The <form>s of a page with their fields, option values and submit buttons."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: HtmlField | None = None
        self._textarea: HtmlField | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = HtmlForm(urlsplit(action).path or urlsplit(self.page_url).path,
                                  (a.get("method") or "get").lower(),
                                  multipart="multipart" in (a.get("enctype") or ""))
            self.forms.append(self._form)
            return
        f = self._form
        if f is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image"):
                f.submits.append((name, a.get("value") or ""))
                return
            old = f.fields.get(name)
            if old is not None and kind in ("radio", "checkbox"):
                old.options.append(a.get("value") or "on")
                return
            f.fields[name] = HtmlField(name, kind, a.get("value") or "",
                                       [a.get("value") or "on"] if kind in ("radio", "checkbox") else [])
        elif tag == "button":
            if (a.get("type") or "submit").lower() == "submit":
                f.submits.append((name, a.get("value") or ""))
        elif tag == "select":
            self._select = f.fields.setdefault(name, HtmlField(name, "select"))
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = f.fields.setdefault(name, HtmlField(name, "textarea"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data


def page_forms(html: str, page_url: str, action: str) -> list[HtmlForm]:
    """The POST forms of the page that submit to `action` (a path)."""
    p = FormScraper(page_url)
    p.feed(html)
    want = urlsplit(action).path
    return [f for f in p.forms if f.method == "post" and f.action == want]


_NUM = re.compile(r"\d+")


# --- a row's target: the URL, the role's client, the fields to fill ---------------------------------

@dataclass
class Target:
    row: object
    url: str
    page_url: str
    page_status: int
    forms: list[HtmlForm]            # scraped from the page (else built from the form classes)
    scraped: bool


def _class_form(path: str, action: str, app) -> HtmlForm:
    """A form's fields read from its class (when no page shows it in the seeded state)."""
    import importlib

    from wtforms import fields as wf

    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    with app.test_request_context("/"):
        form = cls(meta={"csrf": False}, formdata=None)
        out = HtmlForm(action, "post")
        for f in form:
            if isinstance(f, wf.SubmitField):
                out.submits.append((f.name, "1"))
            elif isinstance(f, (wf.SelectField, wf.RadioField, wf.SelectMultipleField)):
                opts = [str(getattr(c, "value", None) if hasattr(c, "value") else c[0]) for c in (f.choices or [])] \
                    if isinstance(f.choices, (list, tuple)) else []
                out.fields[f.name] = HtmlField(f.name, "select", options=opts)
            elif isinstance(f, wf.BooleanField):
                out.fields[f.name] = HtmlField(f.name, "checkbox", options=["y"])
            elif isinstance(f, wf.FileField):
                out.fields[f.name] = HtmlField(f.name, "file")
            elif isinstance(f, wf.HiddenField):
                out.fields[f.name] = HtmlField(f.name, "hidden", str(f._value() or ""))
            elif isinstance(f, wf.TextAreaField):
                out.fields[f.name] = HtmlField(f.name, "textarea")
            else:
                out.fields[f.name] = HtmlField(f.name, "text")
    return out


def target(world: World, row) -> Target:
    """Resolve the row's URL and its page in the seeded world, and the forms the page shows for it."""
    from flask import url_for

    from tests.gates.form_table import resolve_args

    rules = {r.endpoint: r for r in world.app.url_map.iter_rules()}
    rule = rules[row.endpoint]
    page_rule = rules[row.page or row.endpoint]
    with db.engine.connect() as conn:
        args = resolve_args(conn, rule, row)
        page_args = resolve_args(conn, page_rule, type(row)(row.endpoint, row.role, args={**args, **row.args}))
    with world.app.test_request_context("/"):
        url = url_for(row.endpoint, **args)
        page_url = url_for(row.page or row.endpoint, **page_args)
    client = world.client(row.role)
    status, forms = 0, []
    if "GET" in page_rule.methods:
        r = client.get(page_url)
        status = r.status_code
        if status == 200 and r.mimetype == "text/html":
            forms = page_forms(r.get_data(as_text=True), page_url, url)
    scraped = bool(forms)
    if not forms:
        forms = [_class_form(p, url, world.app) for p in row.forms] or [HtmlForm(url, "post")]
    if world.changed():
        world.restore()
    return Target(row, url, page_url, status, forms, scraped)


# --- the hostile corpus ------------------------------------------------------------------------------

CORPUS_FILE = Path(__file__).resolve().parent.parent / "data" / "hostile.txt"


def corpus(section: str | None = None) -> list[str]:
    """The values of tests/data/hostile.txt (of one `# [section]`, or all), escapes decoded."""
    out, current = [], None
    for line in CORPUS_FILE.read_text(encoding="utf-8").split("\n"):
        if line.startswith("# ["):
            current = line[3:].rstrip("]")
            continue
        if line.startswith("#") or line == "":
            continue
        if section is not None and current != section:
            continue
        if line.startswith("@repeat "):
            _, n, text = line.split(" ", 2)
            out.append(text * int(n))
            continue
        out.append(line.encode("latin-1", "backslashreplace").decode("unicode_escape"))
    return out
