"""Points statements (积分明细单): one household or a whole village, with a public verification page."""
from flask import Blueprint

bp = Blueprint("statements", __name__)
