"""Photos people attach (evidence for a points entry, a patrol finding): kept in the instance folder under a
generated name, only when the bytes really are a JPEG or PNG (the file name and the browser's type prove
nothing)."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from .errors import DomainError

MAGIC = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


class PhotoRejected(DomainError):
    """The upload is not a JPEG or PNG; the message goes under the form's photo field."""


def photo_folder(subfolder: str) -> Path:
    return Path(current_app.instance_path) / subfolder


def save_photo(storage, subfolder: str, *, field: str) -> str | None:
    """Keep an uploaded photo under instance/<subfolder>/<random>.<jpg|png>; None when nothing was sent."""
    if storage is None or not getattr(storage, "filename", ""):
        return None
    head = storage.stream.read(16)
    storage.stream.seek(0)
    ext = next((e for magic, e in MAGIC.items() if head.startswith(magic)), None)
    if ext is None:
        raise PhotoRejected(_("A photo must be a JPEG or PNG file."), field)
    folder = photo_folder(subfolder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{ext}"
    storage.save(folder / name)
    return name
