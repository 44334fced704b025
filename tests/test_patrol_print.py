"""Patrol papers read back: the roster, the sign-in sheet, and checkpoint stickers whose QR codes decode to
their check-in addresses (rendered to an image with poppler's pdftoppm, read with zxing-cpp)."""
from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from app.extensions import db
from app.patrol import services as ps
from app.patrol.models import PatrolCheckpoint, PatrolTeam
from app.submission import write_transaction
from tests.test_printing import fonts, pdf_text, squash


@pytest.fixture
def team(client, auth, village, make_user, make_household):
    make_user("duizhang", ("patrol_leader", village))
    heads = [make_household(village, f"03{i:02d}", name).head for i, name in enumerate(["周一鸣", "吴二娃", "郑三妹"])]
    with write_transaction():
        t = ps.create_team(village, name="一号村义务巡逻队", police_liaison="李警官")
        for head in heads:
            ps.add_member(t, db.session.merge(head), joined_on=dt.date(2026, 1, 1))
        route = ps.add_route(t, "村主干道")
        for name in ("村委会", "村小学门口", "水库大坝"):
            ps.add_checkpoint(route, name)
        ps.add_shifts(t, first_day=dt.date(2026, 11, 1), last_day=dt.date(2026, 11, 30), start=dt.time(23),
                      end=dt.time(6), needed=1, route=route)
        ps.fill_month(t, 2026, 11)
    assert auth.login("duizhang").status_code == 302
    return db.session.scalars(sa.select(PatrolTeam)).one()


def test_the_roster_lists_every_shift_with_names_and_counts_in_embedded_chinese_fonts(client, team):
    r = client.get(f"/patrol/teams/{team.id}/roster/2026-11.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = squash("".join(pdf_text(r.data)))
    assert "2026年11月" in text or "2026-11" in text
    assert text.count("23:00–06:00") == 30
    for name in ("周一鸣", "吴二娃", "郑三妹"):
        assert text.count(name) == 11  # ten shifts each in the table, once in the counts
    assert "队长（签字）" in text and "村委会（盖章）" in text
    assert fonts(r.data) and all(embedded and "CJK" in name for name, embedded in fonts(r.data))


def test_the_sign_in_sheet_has_a_block_per_shift_with_signature_columns(client, team):
    r = client.get(f"/patrol/teams/{team.id}/signin/2026-11.pdf")
    assert r.status_code == 200
    pages = pdf_text(r.data)
    text = squash("".join(pages))
    assert text.count("签名") == 30 and text.count("签到时间") == 30
    assert "2026-11-01" in text and "2026-11-30" in text
    assert len(pages) >= 5  # thirty blocks do not fit on a page or two


def _qr_codes(pdf: bytes, tmp_path) -> list[str]:
    (tmp_path / "stickers.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / "stickers.pdf"),
                    str(tmp_path / "page")], check=True)
    return sorted(code.text for code in zxingcpp.read_barcodes(Image.open(tmp_path / "page.png")))


def test_stickers_carry_a_qr_code_of_each_checkpoint_address(client, team, tmp_path):
    route = team.routes[0]
    r = client.get(f"/patrol/routes/{route.id}/stickers.pdf")
    assert r.status_code == 200
    text = squash("".join(pdf_text(r.data)))
    for name in ("村委会", "村小学门口", "水库大坝"):
        assert name in text
    tokens = db.session.scalars(sa.select(PatrolCheckpoint.token).order_by(PatrolCheckpoint.id)).all()
    assert _qr_codes(r.data, tmp_path) == sorted(f"http://localhost/patrol/c/{t}" for t in tokens)


def test_a_renewed_sticker_prints_the_new_address_and_the_old_one_stops(client, team, tmp_path):
    point = team.routes[0].checkpoints[1]
    old = point.token
    r = client.post(f"/patrol/checkpoints/{point.id}/renew", data={"submit": "1"}, follow_redirects=True)
    assert "旧贴纸已失效" in r.get_data(as_text=True)
    new = db.session.get(PatrolCheckpoint, point.id).token
    assert new != old
    codes = _qr_codes(client.get(f"/patrol/routes/{team.routes[0].id}/stickers.pdf").data, tmp_path)
    assert f"http://localhost/patrol/c/{new}" in codes and f"http://localhost/patrol/c/{old}" not in codes
    assert client.get(f"/patrol/c/{old}").status_code == 404
