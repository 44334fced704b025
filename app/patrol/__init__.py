"""Patrol duty (群防群治): teams, routes and checkpoints, monthly rosters, check-ins, logs, points."""
from flask import Blueprint

bp = Blueprint("patrol", __name__)
