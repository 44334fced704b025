"""Photos from phones through the points evidence form (app.photos, shared with patrol and grid photos): a
sideways JPEG is stored upright, a HEIC as a JPEG, a large photo smaller, without where it was taken unless
the village keeps that; anything that is not a readable photo, or too large, is refused with a message under
the field and nothing is written."""
from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pillow_heif
import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image

from app.db import local_today
from app.extensions import db
from app.points.models import PointEntry
from app.registry.models import Village
from tests.test_points_views import _form_key, _login, _setup_scheme

RED, BLUE = (255, 0, 0), (0, 0, 255)
GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (23.0, 7.0, 30.0),
       ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (113.0, 15.0, 0.0)}


@pytest.fixture
def recorder(client, village, make_user, make_household):
    """A clerk on the points entry form, in English, with one item to record; returns the item."""
    make_user("clerk1", ("clerk", village))
    make_household(village, "0101", "张三丰")
    _login(client, "clerk1")
    item = _setup_scheme(client)
    client.get("/lang/en")
    return item


def _photo(size=(400, 200), fmt="JPEG", *, orientation: int | None = None, gps: bool = False,
           mode="RGB", **save) -> bytes:
    """A picture whose top-left corner (as stored, before any EXIF turn) is red, the rest blue."""
    image = Image.new(mode, size, BLUE + ((255,) if mode == "RGBA" else ()))
    corner = Image.new(mode, (size[0] // 4, size[1] // 4), RED + ((255,) if mode == "RGBA" else ()))
    image.paste(corner, (0, 0))
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = GPS
    if orientation or gps:
        save["exif"] = exif.tobytes()
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def _post(client, item, data: bytes, filename: str = "IMG_0001.jpg"):
    form = {"idempotency_key": _form_key(client, "/points/entries/new"), "household_number": "0101",
            "person_id": "0", "item_id": item.id, "occurred_on": local_today().isoformat(), "note": "清洁日",
            "evidence": (io.BytesIO(data), filename)}
    return client.post("/points/entries/new", data=form, content_type="multipart/form-data")


def _stored(app) -> tuple[str, Image.Image]:
    """The one entry's stored photo: its name and the image read back."""
    entry = db.session.scalars(sa.select(PointEntry)).one()
    path = Path(app.instance_path) / "evidence" / entry.evidence_file
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    return entry.evidence_file, image


def _nothing_written(app) -> bool:
    folder = Path(app.instance_path) / "evidence"
    no_files = not folder.exists() or not any(folder.iterdir())
    return no_files and db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 0


def _field_error(html: str) -> str:
    """The text around the evidence field, where its error is shown."""
    at = html.index('name="evidence"')
    return html[max(0, at - 1500):at + 1500]


def test_a_sideways_phone_photo_is_stored_upright_and_without_where_it_was_taken(app, client, recorder):
    # the camera wrote the pixels lying down (400 × 200) and "turn 90° clockwise to show" (orientation 6)
    data = _photo((400, 200), orientation=6, gps=True, comment=b"Zhang San's phone")
    r = _post(client, recorder, data)
    assert r.status_code == 302, r.get_data(as_text=True)
    name, image = _stored(app)
    assert name.endswith(".jpg") and re.fullmatch(r"[0-9a-f]{32}\.jpg", name)
    assert image.format == "JPEG" and image.size == (200, 400)  # upright: width and height swapped
    # the stored top-left corner went to the top right once turned clockwise
    assert _near(image.getpixel((190, 10)), RED) and _near(image.getpixel((10, 10)), BLUE)
    assert _near(image.getpixel((190, 390)), BLUE)
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Orientation not in exif
    assert "comment" not in image.info and "exif" not in image.info
    with client.get(f"/points/entries/{db.session.scalar(sa.select(PointEntry.id))}/evidence") as r:
        assert r.status_code == 200 and r.mimetype == "image/jpeg"


def _near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def test_a_village_that_keeps_the_location_keeps_only_the_gps_block(app, client, recorder, make_user, village):
    make_user("root", ("admin", None))
    _login(client, "root")
    url = f"/admin/villages/{village.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="keep_photo_location"' in page and "checked" not in _checkbox(page)
    r = client.post(url, data={"code": "v1", "name": "一号村", "township_id": "0", "keep_photo_location": "y",
                               "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.get(Village, village.id).keep_photo_location is True
    assert "checked" in _checkbox(client.get(url).get_data(as_text=True))

    _login(client, "clerk1")
    client.get("/lang/en")
    assert _post(client, recorder, _photo((400, 200), orientation=6, gps=True)).status_code == 302
    _name, image = _stored(app)
    assert image.size == (200, 400) and _near(image.getpixel((190, 10)), RED)
    exif = image.getexif()
    assert exif.get(ExifTags.Base.Orientation) == 1  # the pixels are upright now
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N" and tuple(map(float, gps[ExifTags.GPS.GPSLatitude])) == \
        (23.0, 7.0, 30.0)
    assert ExifTags.Base.Model not in exif

    # switched off again: the next photo goes without it
    _login(client, "root")
    r = client.post(url, data={"code": "v1", "name": "一号村", "township_id": "0", "submit": "1"})
    assert r.status_code == 302
    assert db.session.get(Village, village.id).keep_photo_location is False


def _checkbox(page: str) -> str:
    return re.search(r'<input[^>]*name="keep_photo_location"[^>]*>', page).group(0)


def test_an_iphone_heic_is_stored_as_a_jpeg(app, client, recorder):
    out = io.BytesIO()
    picture = Image.new("RGB", (640, 480), BLUE)
    picture.paste(Image.new("RGB", (160, 120), RED), (0, 0))
    pillow_heif.from_pillow(picture).save(out, quality=90)
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"
    r = _post(client, recorder, data, "IMG_4242.HEIC")
    assert r.status_code == 302, r.get_data(as_text=True)
    name, image = _stored(app)
    assert name.endswith(".jpg") and image.format == "JPEG" and image.size == (640, 480)
    assert _near(image.getpixel((20, 20)), RED) and _near(image.getpixel((600, 400)), BLUE)


def test_a_large_photo_is_stored_at_most_1600_on_its_longest_side(app, client, recorder):
    data = _photo((4000, 3000), quality=95)
    assert _post(client, recorder, data).status_code == 302
    _name, image = _stored(app)
    assert image.size == (1600, 1200)
    assert _near(image.getpixel((20, 20)), RED) and _near(image.getpixel((1500, 1100)), BLUE)


def test_a_transparent_png_stays_a_png_an_opaque_one_becomes_a_jpeg(app, client, recorder):
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (100, 100), RED + (255,)), (0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    assert _post(client, recorder, out.getvalue(), "stamp.png").status_code == 302
    name, stored = _stored(app)
    assert name.endswith(".png") and stored.mode == "RGBA"
    assert stored.getpixel((250, 250))[3] == 0 and stored.getpixel((10, 10)) == RED + (255,)


def test_an_opaque_png_is_stored_as_a_jpeg(app, client, recorder):
    assert _post(client, recorder, _photo((300, 200), "PNG"), "screenshot.png").status_code == 302
    name, stored = _stored(app)
    assert name.endswith(".jpg") and stored.format == "JPEG" and stored.size == (300, 200)


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_BYTES": 100 * 1024}])
def test_a_photo_over_the_limit_is_refused_under_the_field_with_the_form_back(app, client, recorder):
    data = _photo((1200, 900), quality=100) + b"\x00" * (100 * 1024)
    assert len(data) > 100 * 1024
    r = _post(client, recorder, data, "IMG_0002.jpg")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "The photo is larger than 0.1 MB" in _field_error(html)
    assert 'value="0101"' in html and "清洁日" in html  # the form comes back as it was filled in
    assert _nothing_written(app)


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG that claims width × height pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("what", "data", "message"), [
    ("text renamed .jpg", "这不是照片".encode() * 100, "not a photo that can be read"),
    ("a JPEG cut short", "truncated", "not a photo that can be read"),
    ("a PNG cut short", "truncated png", "not a photo that can be read"),
    ("an empty file", b"", "not a photo that can be read"),
    ("a GIF", "gif", "not a photo that can be read"),
    ("a pixel bomb", "bomb", "too many pixels"),
])
def test_what_is_not_a_readable_photo_is_refused_and_nothing_is_written(app, client, recorder, what, data,
                                                                         message):
    if data == "truncated":
        whole = _photo((800, 600), quality=95)
        data = whole[:len(whole) * 2 // 3]
    elif data == "truncated png":
        whole = _photo((300, 200), "PNG")
        data = whole[:len(whole) // 2]
    elif data == "gif":
        data = _photo((40, 40), "GIF")
    elif data == "bomb":
        data = _bomb_png(30_000, 30_000)  # 900 million pixels in about a hundred bytes
    r = _post(client, recorder, data, "photo.jpg")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, what
    assert message in _field_error(html), what
    assert _nothing_written(app), what


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 2 * 1024 * 1024}])
@pytest.mark.parametrize("csrf", [False, True])
def test_a_request_over_the_limit_gets_a_friendly_page_not_a_bare_413(app, client, recorder, csrf):
    """Also with CSRF on, where the limit trips in the CSRF check before the view runs."""
    app.config["WTF_CSRF_ENABLED"] = csrf
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    data = _photo((200, 200)) + b"\x00" * (3 * 1024 * 1024)
    # the body built in memory: the test client would spool one this large to a temporary file that
    # nothing reads (and closes) once the request is refused
    boundary, body = encode_multipart({
        "idempotency_key": _form_key(client, "/points/entries/new"), "household_number": "0101",
        "person_id": "0", "item_id": str(recorder.id), "occurred_on": local_today().isoformat(),
        "evidence": FileStorage(io.BytesIO(data), "IMG_0003.jpg")})
    r = client.post("/points/entries/new", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    html = r.get_data(as_text=True)
    assert r.status_code == 413
    assert "at most 2 MB can be sent at once" in html and '<html lang="en"' in html
    assert _nothing_written(app)


def test_the_photo_field_offers_heic_photos_to_choose(client, recorder):
    html = client.get("/points/entries/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*accept="image/jpeg,image/png,image/heic,image/heif"[^>]*name="evidence"',
                     html)


@pytest.mark.parametrize("keep", [False, True])
def test_a_grid_visit_photo_follows_the_village_setting(app, client, auth, ground, village, keep):
    from app.grid.models import Visit
    from app.submission import write_transaction
    from tests.test_grid_views import _as

    with write_transaction():
        db.session.get(Village, village.id).keep_photo_location = keep
    _as(auth, "wangge")
    r = client.post(f"/grid/households/{ground['0201']}/visit", data={
        "visit-visited_on": local_today().isoformat(), "visit-purpose": "routine", "visit-findings": "屋顶漏雨",
        "visit-requests": "", "visit-follow_up_on": "", "visit-submit": "1",
        "visit-photo": (io.BytesIO(_photo((400, 200), orientation=6, gps=True)), "IMG_0009.HEIC")},
        content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    visit = db.session.scalars(sa.select(Visit)).one()
    with Image.open(Path(app.instance_path) / "grid" / visit.photo_file) as image:
        assert image.format == "JPEG" and image.size == (200, 400)
        assert bool(image.getexif().get_ifd(ExifTags.IFD.GPSInfo)) is keep
