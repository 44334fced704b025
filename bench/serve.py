"""WSGI entry for the benchmark server: the real app on the benchmark database (BENCH_DATABASE_URL)."""
import os

from bench.common import make_app

app = make_app(os.environ["BENCH_DATABASE_URL"])
