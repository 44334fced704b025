from flask import Blueprint

from .labels import install as _install_labels

bp = Blueprint("rules", __name__)
_install_labels()
