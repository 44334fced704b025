"""WSGI entry point: gunicorn wsgi:app, waitress-serve wsgi:app, or flask --app wsgi.

Serving refuses to start while the database schema is behind the migrations (app/ops/schema.py); the
`flask` commands (db upgrade, backup, …) are not held.
"""
from app import create_app
from app.ops.schema import refuse_when_behind

app = create_app()
refuse_when_behind(app)
