"""Grid work (网格化): grids and micro-grids, grid workers, household visits on a schedule (三必访), and events
(六必到 / 六必报) followed from report to closure."""
from flask import Blueprint

bp = Blueprint("grid", __name__)
