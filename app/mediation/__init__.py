"""Mediation cases (矛盾纠纷调解): register, sessions, agreements, follow-ups, statistics; privacy first."""
from flask import Blueprint

bp = Blueprint("mediation", __name__)
