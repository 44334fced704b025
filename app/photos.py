"""Photos people attach (evidence for a points entry, a patrol finding, a grid visit): what a phone sends —
a JPEG or PNG, or an iPhone's HEIC, often 4–12 MB and lying on its side with the turn written in its EXIF —
is kept as a smaller upright copy under a generated name in the instance folder.

The bytes decide, never the file name or the browser's type: the upload is opened with Pillow (HEIC through
pillow-heif) as one of the known formats, checked for damage (a file cut short, a broken PNG) and for
decompression bombs, then turned upright (EXIF orientation), reduced to PHOTO_MAX_SIDE on its longest side
and written again as a JPEG (a PNG with transparency stays a PNG). Writing it again drops every piece of
metadata the phone put in: the camera, the time, comments and above all where it was taken. The place is
kept only for a village that asked for it (`villages.keep_photo_location`), and then only the GPS block.

Pillow's ImageFile.LOAD_TRUNCATED_IMAGES is switched on process-wide by WeasyPrint when it is imported, so
a cut-short file is not found by Pillow's own check: this module notices it itself (see `_Reader`).
"""
from __future__ import annotations

import io
import secrets
from pathlib import Path

import pillow_heif
from flask import current_app
from flask_babel import gettext as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import DomainError

pillow_heif.register_heif_opener()
Image.init()  # every plugin registered: Image.open(formats=…) looks them up by name

#: the formats an upload may be, by Pillow's names (a phone's MPO, a JPEG with a second picture after the
#: first, opens as JPEG)
FORMATS = ("JPEG", "PNG", "HEIF")
DEFAULT_MAX_SIDE = 1600
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
JPEG_QUALITY = 85
#: what Pillow may raise for a file that is not an image of a known format, or a damaged one
_BROKEN = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError,
           TypeError)


class PhotoRejected(DomainError):
    """The upload is not a usable photo; the message goes under the form's photo field."""


class _Reader(io.BytesIO):
    """The upload's bytes, noting when a decoder asks for more than there is: the file was cut short."""

    ran_dry = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if not chunk and size != 0:
            self.ran_dry = True
        return chunk


def photo_folder(subfolder: str) -> Path:
    return Path(current_app.instance_path) / subfolder


def max_photo_mb() -> str:
    """PHOTO_MAX_BYTES in MB, for messages and form hints: "20", "0.5"."""
    mb = current_app.config.get("PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES) / (1024 * 1024)
    return f"{mb:.1f}".rstrip("0").rstrip(".") or "0.1"


def save_photo(storage, subfolder: str, *, field: str, keep_location: bool = False) -> str | None:
    """Keep an uploaded photo as instance/<subfolder>/<random>.jpg (or .png); None when nothing was sent.

    :param keep_location: keep the photo's GPS position (the village's setting); otherwise it is dropped.
    :raise PhotoRejected: too large, not a JPEG/PNG/HEIC image, damaged, or too many pixels; nothing is
        written then.
    """
    if storage is None or not getattr(storage, "filename", ""):
        return None
    data = _read(storage, field)
    max_side = int(current_app.config.get("PHOTO_MAX_SIDE", DEFAULT_MAX_SIDE))
    try:
        content, ext = _encode(_open(data, max_side, field), max_side, keep_location)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(field) from None
    except _BROKEN:
        raise _not_a_photo(field) from None
    folder = photo_folder(subfolder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{ext}"
    (folder / name).write_bytes(content)
    return name


def _read(storage, field: str) -> bytes:
    """The upload's bytes, refused when larger than PHOTO_MAX_BYTES (read no further than that)."""
    limit = current_app.config.get("PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES)
    storage.stream.seek(0)
    data = storage.stream.read(limit + 1)
    storage.stream.seek(0)
    if len(data) > limit:
        raise PhotoRejected(_("The photo is larger than %(mb)s MB; choose a smaller one, or take it again "
                              "with a lower resolution in the camera's settings.", mb=max_photo_mb()), field)
    return data


def _not_a_photo(field: str) -> PhotoRejected:
    return PhotoRejected(_("This file is not a photo that can be read (JPEG, PNG or HEIC), or it is damaged or "
                           "incomplete. Take or choose the photo again."), field)


def _too_many_pixels(field: str) -> PhotoRejected:
    return PhotoRejected(_("This picture has too many pixels to be stored. Choose an ordinary photo from the "
                           "camera."), field)


def _open(data: bytes, max_side: int, field: str) -> Image.Image:
    """The decoded picture, upright; refused when it is not one of FORMATS, is damaged or is a bomb."""
    with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
        kind, (width, height) = probe.format, probe.size
        probe.verify()  # a PNG's checksums and its end: a cut-short PNG fails here
    # Pillow itself refuses twice MAX_IMAGE_PIXELS and only warns above it: refuse from the limit on
    if width < 1 or height < 1:
        raise _not_a_photo(field)
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise _too_many_pixels(field)
    if kind == "HEIF":
        # decoded by libheif directly: through Pillow a damaged HEIC comes back black, without an error,
        # whenever LOAD_TRUNCATED_IMAGES is on; libheif applies the container's rotation itself
        image = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True).to_pillow()
    else:
        reader = _Reader(data)
        image = Image.open(reader, formats=FORMATS)
        if kind in ("JPEG", "MPO"):
            # decode a phone's JPEG at 1/2, 1/4 or 1/8 of its size straight away when that is still
            # at least as large as the stored copy: a quarter of the memory and time for a 12 MP photo
            scale = max_side / max(width, height)
            if scale < 1:
                image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
        image.load()
        if reader.ran_dry:
            raise OSError("image file is truncated")
    return ImageOps.exif_transpose(image)


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        return alpha.getextrema()[0] < 255
    return False


def _location_exif(image: Image.Image) -> bytes | None:
    """EXIF holding only the GPS block of the original (and orientation 1: the pixels are upright now)."""
    gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.IFD.GPSInfo] = dict(gps)
    return exif.tobytes()


def _encode(image: Image.Image, max_side: int, keep_location: bool) -> tuple[bytes, str]:
    """The stored file: at most max_side on its longest side, JPEG (PNG when transparent)."""
    location = _location_exif(image) if keep_location else None
    icc = image.info.get("icc_profile")  # colour, not metadata about the person: keeps colours right
    transparent = _has_transparency(image)
    image = image.convert("RGBA" if transparent else "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    image.info = {}  # nothing of the original travels on (comments, XMP, EXIF, text chunks …)
    options: dict = {"icc_profile": icc} if icc else {}
    if location:
        options["exif"] = location
    out = io.BytesIO()
    if transparent:
        image.save(out, "PNG", optimize=True, **options)
        return out.getvalue(), "png"
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **options)
    return out.getvalue(), "jpg"
