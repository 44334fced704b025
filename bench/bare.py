"""The bare endpoint: a Flask app returning a fixed string, served and loaded like the real pages.

It is the ceiling of this machine (gunicorn + Flask, no database, no templates) that the kiosk
lookup's throughput is compared with, in the same run.
"""
from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping() -> str:
    return "pong"
