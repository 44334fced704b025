#!/bin/bash
# Upgrade a Xiangyue installation in place (Linux): back up, update, migrate, prove; then restart it.
#   sudo -u xiangyue deploy/upgrade.sh          (from the project folder, e.g. /srv/xiangyue)
# Stops at the first failure; a failed migration is undone by restoring the backup it just took
# (docs/operations.md, "Upgrade").
set -euo pipefail
cd "$(dirname "$0")/.."
FLASK=(.venv/bin/flask --app wsgi)

echo "== 1. back up (the app may go on serving)"
"${FLASK[@]}" backup
echo "== 2. update the code and its requirements"
if [ -d .git ]; then git pull --ff-only; fi
.venv/bin/pip install -q --disable-pip-version-check --no-input -r requirements.txt
.venv/bin/pybabel compile -q -d app/translations
echo "== 3. migrate the schema"
"${FLASK[@]}" db upgrade
echo "== 4. prove the ledger and the audit chain"
"${FLASK[@]}" ledger check
"${FLASK[@]}" audit verify
echo "== 5. restart"
echo "upgraded. Now restart the server: sudo systemctl restart xiangyue (Windows: start-xiangyue.cmd again)"
