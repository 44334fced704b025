from flask import Blueprint

from ..rules.services import install_items_citing
from .citations import items_citing

bp = Blueprint("points", __name__)


@bp.record_once
def _install(state) -> None:
    # the rules' article page lists the items citing it; rules import nothing of points, so points hands it over
    install_items_citing(state.app, items_citing)
