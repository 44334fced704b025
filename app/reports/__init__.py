"""Reports: the village dashboard with its printed month, and the township roll-up (figures in figures.py)."""
from flask import Blueprint

bp = Blueprint("reports", __name__)
