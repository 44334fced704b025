from flask import Blueprint

bp = Blueprint("points", __name__)
