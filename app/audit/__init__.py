from flask import Blueprint

from ..access import install_audit_writer
from .services import record

bp = Blueprint("audit", __name__)


@bp.record_once
def _install(state) -> None:
    # access (core) audits its refusals through this writer: the arrow points from the feature to the core
    install_audit_writer(state.app, record)
