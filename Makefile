# Xiangyue (乡约) — build, run and test on Debian 12.
# GNU make; recipes run in bash. `make` alone prints the targets.
#
#   make run                      serve on http://127.0.0.1:5000/
#   make run HOST=0.0.0.0         serve on every interface (village LAN)
#   make test PYTEST_ARGS='-k kiosk -x'

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# 127.0.0.1 = this computer only. To let the other PCs / the kiosk tablet on the
# village LAN reach the app, listen on every interface: make run HOST=0.0.0.0
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# e.g. make bench BENCH_ARGS='--backend sqlite --only 2,6'
BENCH_ARGS ?=
# browser for the e2e tests (Debian package chromium; never `playwright install`)
CHROMIUM ?= /usr/bin/chromium
# `make run` shares the budgets of attempts (logins, kiosk PINs, /verify) and the rate limits between its
# workers in the Redis answering here, else counts the budgets in the database (app/budgets.py).
# RATELIMIT_STORAGE_URI set in the environment wins.
REDIS_HOST ?= 127.0.0.1
REDIS_PORT ?= 6379

VENV  := .venv
PY    := $(VENV)/bin/python
PIP   := $(VENV)/bin/pip
FLASK := FLASK_APP=wsgi $(VENV)/bin/flask
STAMP := $(VENV)/.requirements-stamp
# lazy (=): only looked up when the venv has to be created
PYTHON_FOR_VENV = $(shell command -v python3.11 || command -v python3)

# Debian packages: PDF + Chinese text (WeasyPrint), browser tests, PDF inspection.
SYSTEM_PACKAGES := fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 \
                   chromium poppler-utils wrk time

.PHONY: help deps-system venv translations i18n-update migrate demo budget-store run test gates model print-refs backup-drill bench bench-quick clean

help: ## show this list
	@echo "Xiangyue make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z0-9-]*:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: HOST=$(HOST) PORT=$(PORT) (HOST=0.0.0.0 to serve the LAN), PYTEST_ARGS='...'"

deps-system: ## apt-get install the missing Debian packages (root only; no-op when present)
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps-system: all Debian packages present"; exit 0; fi; \
	echo "deps-system: missing:$$missing"; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "deps-system: apt-get not found; install by hand:$$missing (skipping)"; exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "deps-system: not root; run: sudo apt-get install -y$$missing (skipping)"; exit 0; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q; \
	apt-get install -y -q $$missing

venv: $(STAMP) ## create .venv and pip install -r requirements.txt when it changed

$(PY):
	@py="$(PYTHON_FOR_VENV)"; \
	if [ -z "$$py" ]; then echo "venv: neither python3.11 nor python3 found" >&2; exit 1; fi; \
	echo "venv: creating $(VENV) with $$py ($$("$$py" -V 2>&1))"; \
	"$$py" -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PIP) install -q --disable-pip-version-check --no-input -r requirements.txt
	@touch $@

translations: venv ## compile app/translations/*.po to .mo (skipped when there are none)
	@shopt -s nullglob; pos=(app/translations/*/LC_MESSAGES/*.po); \
	if [ $${#pos[@]} -eq 0 ]; then echo "translations: no catalogs under app/translations, nothing to compile"; \
	else $(VENV)/bin/pybabel compile -d app/translations; fi

# --- interface languages ----------------------------------------------------------------------
# UI strings are English msgids; Simplified Chinese is the default language. The catalog lives in
# zh_Hans_CN/ (NOT zh_CN/: Flask-Babel resolves zh_CN to zh_Hans_CN and silently ignores zh_CN/).
# After adding or changing UI strings: `make i18n-update`, translate the empty msgstr entries it
# lists in the .po, `make translations`. Commit messages.pot and the .po; the .mo is gitignored.
I18N_DIR    := app/translations
I18N_POT    := $(I18N_DIR)/messages.pot
I18N_LOCALE := zh_Hans_CN
I18N_PO     := $(I18N_DIR)/$(I18N_LOCALE)/LC_MESSAGES/messages.po
# babel.cfg maps app/**.py, templates/**.html and printables/**.html; these directories are never
# entered (.venv, .git …). Giving --ignore-dirs also replaces Babel's default filter, which silently
# skips every directory whose name starts with "_" (templates/_macros/ would be lost).
# tests/test_i18n.py runs the same extraction (EXTRACT_ARGS there): keep the two in step.
I18N_IGNORE_DIRS := .* __pycache__ node_modules instance migrations tests
# --add-location=file: no line numbers, so the committed files only change when strings change
I18N_EXTRACT := $(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext \
                --ignore-dirs '$(I18N_IGNORE_DIRS)' --add-comments TRANSLATORS: \
                --add-location file --no-wrap --project Xiangyue --copyright-holder Xiangyue

i18n-update: venv ## extract UI strings to messages.pot and merge them into the zh_Hans_CN .po
	@mkdir -p $(I18N_DIR)
	$(I18N_EXTRACT) -o $(I18N_POT) .
	$(VENV)/bin/pybabel update -i $(I18N_POT) -d $(I18N_DIR) -l $(I18N_LOCALE) --init-missing \
	  --no-fuzzy-matching --ignore-obsolete --no-wrap
	@$(PY) - $(I18N_PO) <<<$$'import sys\nfrom babel.messages.pofile import read_po\n\
	with open(sys.argv[1], "rb") as fh: cat = read_po(fh)\n\
	msgs = [m for m in cat if m.id]\n\
	todo = [m for m in msgs if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string])]\n\
	print(f"i18n-update: {len(msgs)} messages, {len(todo)} still to translate in {sys.argv[1]}")\n\
	for m in todo: print("  -", m.id if isinstance(m.id, str) else m.id[0])'

migrate: venv translations ## flask db upgrade (create / update the database schema)
	$(FLASK) db upgrade

demo: migrate ## seed the demo village (only when the database is empty; idempotent)
	$(FLASK) demo

# PING → +PONG: a Redis that answers (one that wants a password does not, and the database counts)
define REDIS_PROBE
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        ok = s.recv(16).startswith(b"+PONG")
except OSError:
    ok = False
print(f"redis://{sys.argv[1]}:{sys.argv[2]}/0" if ok else "memory://")
endef
export REDIS_PROBE

# the environment's RATELIMIT_STORAGE_URI, else what the probe finds
BUDGET_STORE = $${RATELIMIT_STORAGE_URI:-$$($(PYTHON_FOR_VENV) -c "$$REDIS_PROBE" "$(REDIS_HOST)" "$(REDIS_PORT)")}

budget-store: ## print the RATELIMIT_STORAGE_URI `make run` uses (memory:// = budgets in the database)
	@echo "$(BUDGET_STORE)"

run: deps-system venv translations migrate demo ## set everything up, then serve with gunicorn on HOST:PORT
	@echo
	@echo "Xiangyue is starting at http://$(HOST):$(PORT)/"
	@if [ "$(HOST)" = "0.0.0.0" ]; then \
	  for ip in $$(hostname -I 2>/dev/null); do echo "  on the LAN: http://$$ip:$(PORT)/"; done; fi
	@$(FLASK) demo --print-logins
	@echo "Stop with Ctrl+C."
	@echo
	@storage="$(BUDGET_STORE)"; \
	if [ "$$storage" = "memory://" ]; then \
	  echo "Budgets of attempts: counted in the database (no Redis answers on $(REDIS_HOST):$(REDIS_PORT))"; \
	else echo "Budgets of attempts and rate limits: shared in Redis ($$storage)"; fi; \
	echo "+ RATELIMIT_STORAGE_URI=$$storage $(GUNICORN_RUN)"; \
	RATELIMIT_STORAGE_URI="$$storage" exec $(GUNICORN_RUN)

GUNICORN_RUN = $(VENV)/bin/gunicorn -c python:app.serving -w 2 --timeout 300 -b $(HOST):$(PORT) wsgi:app

# With TEST_DATABASE_URL set (CI), every test runs on both databases: `make test` runs the SQLite tests (and those
# that touch no database) and the PostgreSQL tests side by side, one pytest process each, as `make gates` does.
# The suite is Python-bound and one process kept one of the two cores busy: 58 min in one process (CI, AMD EPYC
# VM, 2026-12-07). TEST_SIDE_BY_SIDE=0 runs them in one process, as does a PYTEST_ARGS with its own -k.
TEST_SIDE_BY_SIDE ?= 1
TEST_LOG := $(CURDIR)/instance/test

test: deps-system venv translations ## run pytest (e2e tests skipped, loudly, when Chromium is absent)
	@set --; \
	if [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1; then :; else \
	  set -- -m "not e2e"; \
	  echo "########################################################################"; \
	  echo "##  WARNING: Chromium not found ($(CHROMIUM), PATH)."; \
	  echo "##  Browser (e2e) tests are NOT run: pytest -m 'not e2e'."; \
	  echo "##  Fix: apt-get install chromium   (never 'playwright install')"; \
	  echo "########################################################################"; \
	fi; \
	rc=0; \
	if [ -n "$${TEST_DATABASE_URL:-}" ] && [ "$(TEST_SIDE_BY_SIDE)" = 1 ] && [ -z "$(filter -k%,$(PYTEST_ARGS))" ]; then \
	  mkdir -p $(dir $(TEST_LOG)); \
	  echo "+ SQLite and PostgreSQL side by side, one pytest process each (-k 'not postgresql' / -k postgresql)"; \
	  echo "+ $(PY) -m pytest $${1:+-m '$$2'} -k 'not postgresql' -p no:cacheprovider $(PYTEST_ARGS) > $(TEST_LOG)-sqlite.log"; \
	  echo "+ $(PY) -m pytest $${1:+-m '$$2'} -k postgresql -p no:cacheprovider $(PYTEST_ARGS)"; \
	  $(PY) -m pytest "$$@" -k "not postgresql" -p no:cacheprovider $(PYTEST_ARGS) > $(TEST_LOG)-sqlite.log 2>&1 & \
	  first=$$!; \
	  pg=0; $(PY) -m pytest "$$@" -k postgresql -p no:cacheprovider $(PYTEST_ARGS) || pg=$$?; \
	  lite=0; wait $$first || lite=$$?; \
	  echo "== the SQLite process ($(TEST_LOG)-sqlite.log), exit $$lite:"; \
	  if [ $$lite -eq 0 ]; then tail -n 3 $(TEST_LOG)-sqlite.log; \
	  elif grep -q '^=* FAILURES =*$$' $(TEST_LOG)-sqlite.log; then sed -n '/^=* FAILURES =*$$/,$$p' $(TEST_LOG)-sqlite.log; \
	  else tail -n 200 $(TEST_LOG)-sqlite.log; fi; \
	  echo "== the PostgreSQL process (above), exit $$pg"; \
	  rc=$$pg; [ $$rc -ne 0 ] || rc=$$lite; \
	else \
	  echo "+ $(PY) -m pytest $${1:+-m '$$2'} $(PYTEST_ARGS)"; \
	  $(PY) -m pytest "$$@" $(PYTEST_ARGS) || rc=$$?; \
	fi; \
	if [ $$# -gt 0 ]; then echo "## WARNING: e2e tests were skipped (no Chromium) ##"; fi; \
	case $$rc in \
	  0) ;; \
	  5) echo "make test: FAILED — pytest collected no tests (exit 5). An empty run is not a pass." >&2 ;; \
	  *) echo "make test: FAILED — pytest exit code $$rc." >&2 ;; \
	esac; \
	exit $$rc

# the print gate's page images (tests/test_print_gate.py): after changing a printable, regenerate them from the seeded
# demo village, look at the changed ones (git status / git diff --stat tests/data/print_refs) and commit them
print-refs: deps-system venv translations ## regenerate the reference page images of every printable (tests/data/print_refs/)
	rm -f tests/data/print_refs/*.png
	UPDATE_PRINT_REFS=1 $(PY) -m pytest tests/test_print_gate.py -k "pages_look and sqlite" -p no:cacheprovider -q
	@echo "print-refs: $$(ls tests/data/print_refs/*.png | wc -l) pages in tests/data/print_refs/; look at them before committing"

# The quality gates (tests/gates/, README "Quality gates"): `make test` runs them sampled (every route, form and
# page, a rotating sample of the combinations behind them); here every combination. TEST_DATABASE_URL as for test.
# With TEST_DATABASE_URL set, the two databases' gates run side by side, one pytest process each: the gates are
# Python-bound, so on two cores the full run takes about half as long. Each writes its own log.
GATES_LOG := $(CURDIR)/instance/gates
gates: deps-system venv translations ## the quality gates in full (authorization matrix, CSRF, sessions …; slow)
	@if [ -z "$$TEST_DATABASE_URL" ]; then \
	  echo "+ XIANGYUE_GATES=full $(PY) -m pytest -m gates -p no:cacheprovider $(PYTEST_ARGS)"; \
	  XIANGYUE_GATES=full $(PY) -m pytest -m gates -p no:cacheprovider $(PYTEST_ARGS); exit $$?; \
	fi; \
	mkdir -p $(dir $(GATES_LOG)); \
	echo "+ gates in full, SQLite and PostgreSQL side by side: $(GATES_LOG)-sqlite.log, $(GATES_LOG)-postgresql.log"; \
	echo "  (each failure's reason as it happens: $(GATES_LOG)-sqlite-failures.log, …-postgresql-failures.log)"; \
	rm -f $(GATES_LOG)-sqlite-failures.log $(GATES_LOG)-postgresql-failures.log; \
	XIANGYUE_GATES=full XIANGYUE_GATES_FAILURES=$(GATES_LOG)-sqlite-failures.log \
	  $(PY) -m pytest -m gates -p no:cacheprovider -k "not postgresql" $(PYTEST_ARGS) \
	  > $(GATES_LOG)-sqlite.log 2>&1 & first=$$!; \
	XIANGYUE_GATES=full XIANGYUE_GATES_FAILURES=$(GATES_LOG)-postgresql-failures.log \
	  $(PY) -m pytest -m gates -p no:cacheprovider -k postgresql $(PYTEST_ARGS) \
	  > $(GATES_LOG)-postgresql.log 2>&1; pg=$$?; \
	wait $$first; lite=$$?; \
	for db in sqlite postgresql; do echo "== $$db"; tail -n 25 $(GATES_LOG)-$$db.log; done; \
	echo "gates: SQLite exit $$lite, PostgreSQL exit $$pg"; \
	[ $$lite -eq 0 ] && [ $$pg -eq 0 ]

# T7 in full: `make test` runs the points services against their model for 50 runs of 50 steps, here 200
model: deps-system venv translations ## T7 with 200 runs of the points model (make test: 50; TEST_DATABASE_URL as for test)
	T7_EXAMPLES=200 $(PY) -m pytest tests/test_points_model.py -k t7 -p no:cacheprovider $(PYTEST_ARGS)

# T6 in full: `make test` restores every SQLite backup but only a spread of the PostgreSQL ones
backup-drill: deps-system venv translations ## T6 with all 40 backups restored on every database (TEST_DATABASE_URL for PostgreSQL)
	BACKUP_DRILL_ALL=1 $(PY) -m pytest tests/test_backup_drill.py -p no:cacheprovider $(PYTEST_ARGS)

bench: deps-system venv translations ## all benchmarks on full data (SQLite + PostgreSQL if found); updates README
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: deps-system venv translations ## the everyday benchmark: one year of data, 4-second runs (< 5 min)
	$(PY) -m bench.run --quick $(BENCH_ARGS)

clean: ## remove __pycache__ and .pytest_cache (keeps .venv and the database)
	find . \( -path ./.venv -o -path ./.git \) -prune -o \
	  -type d \( -name __pycache__ -o -name .pytest_cache \) -prune -exec rm -rf {} +
