"""Excel import and export of the register."""
from __future__ import annotations

from flask import render_template

from ..access import require
from . import bp


@bp.route("/import")
@require("registry.edit")
def import_start():
    return render_template("registry/import.html")


@bp.route("/export.xlsx")
@require("registry.export")
def export_xlsx():
    return "", 501
