"""The clerk's side of the kiosk: enable and revoke devices, set household PINs, print household cards."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_in_village_or_404, require
from ..extensions import db
from ..forms import options
from ..printing import pdf_response, render_pdf
from .. import qrcodes
from ..text import group_key, mask_name
from ..registry.models import Household, VillagerGroup
from ..submission import run_write, submit
from . import admin_bp as bp
from . import services as ks
from .forms import CardsForm, DeviceForm, KioskForm, PinSetForm
from .models import KioskDevice


# Devices

@bp.route("/devices", methods=["GET", "POST"])
@require("kiosk.manage")
def devices():
    """The village's kiosks; a new one gets a one-time enrolment link to open on the touch screen."""
    form = DeviceForm()
    link = qr = None
    if form.validate_on_submit():
        done = submit(form, lambda: ks.create_device(g.village, form.name.data, actor=current_user),
                      field="name")
        if done:
            device, code = done.value
            link = url_for("kiosk.enrol", code=code, _external=True)
            qr = qrcodes.make(link, error="m").svg_data_uri(scale=4)
            flash(_("Kiosk %(name)s created. Open the link below once on the kiosk.", name=device.name),
                  "success")
            form = DeviceForm(formdata=None)
    rows = list(db.session.scalars(sa.select(KioskDevice).where(KioskDevice.village_id == g.village.id)
                                   .order_by(KioskDevice.revoked_at.is_not(None), KioskDevice.id)))
    return render_template("kiosk_admin/devices.html", form=form, devices=rows, link=link, qr=qr,
                           action_form=KioskForm())


@bp.post("/devices/<int:device_id>/revoke")
@require("kiosk.manage")
def device_revoke(device_id: int):
    """Switch a kiosk off for good (lost, stolen or replaced); its browser shows nothing any more."""
    get_in_village_or_404(KioskDevice, device_id)
    if KioskForm().validate_on_submit():
        def switch_off():
            device = get_in_village_or_404(KioskDevice, device_id)
            ks.revoke_device(device, actor=current_user)
            return device

        device = run_write(switch_off)
        flash(_("Kiosk %(name)s switched off.", name=device.name), "success")
    return redirect(url_for("kiosk_admin.devices"))


# Household PIN and card

@bp.route("/households/<int:household_id>", methods=["GET", "POST"])
@require("kiosk.manage")
def household(household_id: int):
    """Set or reset the household's kiosk PIN, lift a lock, issue its card."""
    h = get_in_village_or_404(Household, household_id)
    form = PinSetForm()
    if form.validate_on_submit():
        if form.pin.data != form.pin2.data:
            form.pin2.errors = [_("The two PINs are not the same.")]
        elif submit(form, lambda: ks.set_pin(get_in_village_or_404(Household, household_id), form.pin.data,
                                             actor=current_user), field="pin"):
            flash(_("The kiosk PIN of household %(number)s is set. Tell it to the household in person.",
                    number=h.number), "success")
            return redirect(url_for("kiosk_admin.household", household_id=h.id))
    row = ks.pin_of(h)
    return render_template("kiosk_admin/household.html", household=h, form=form, pin=row,
                           locked=ks.is_locked(row), card=ks.active_card(h), action_form=KioskForm())


@bp.post("/households/<int:household_id>/unlock")
@require("kiosk.manage")
def household_unlock(household_id: int):
    get_in_village_or_404(Household, household_id)
    if KioskForm().validate_on_submit():
        run_write(lambda: ks.unlock_pin(get_in_village_or_404(Household, household_id), actor=current_user))
        flash(_("The kiosk lock is lifted."), "success")
    return redirect(url_for("kiosk_admin.household", household_id=household_id))


def _card_rows(issued: list[tuple[Household, str]]) -> list[dict]:
    rows = []
    for h, code in issued:
        rows.append({"number": h.number, "name": mask_name(h.head.name if h.head else ""),
                     "group": h.group.name if h.group else "",
                     "qr": qrcodes.make(code, error="m").svg_data_uri(scale=4, border=1)})
    return rows


def _sheet(issued: list[tuple[Household, str]], title: str):
    pdf = render_pdf("household_cards.html", village=g.village, cards=_card_rows(issued), title=title)
    return pdf_response(pdf, f"{title}.pdf", ascii_name="household-cards.pdf")


@bp.post("/households/<int:household_id>/card")
@require("kiosk.manage")
def household_card(household_id: int):
    """Issue (or reissue) this household's card and print it; an older card stops working."""
    get_in_village_or_404(Household, household_id)
    if not KioskForm().validate_on_submit():
        return redirect(url_for("kiosk_admin.household", household_id=household_id))
    def issue():
        h = get_in_village_or_404(Household, household_id)
        return h, ks.issue_card(h, actor=current_user)

    h, code = run_write(issue)
    return _sheet([(h, code)], _("Household card %(number)s", number=h.number))


@bp.route("/cards", methods=["GET", "POST"])
@require("kiosk.manage")
def cards():
    """Print a sheet of household cards for the village or one group (10 cards to an A4 page)."""
    groups = sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)),
                    key=lambda gr: group_key(gr.name))
    form = CardsForm()
    form.group_id.choices = options([("", _("All households of the village"))]
                                    + [(str(gr.id), gr.name) for gr in groups])
    if form.validate_on_submit():
        group_id = int(form.group_id.data) if (form.group_id.data or "").isdigit() else None
        if group_id is not None and group_id not in {gr.id for gr in groups}:
            form.group_id.errors = [_("Please choose a group of this village.")]
        else:
            def issue_all():
                households = ks.households_for_cards(g.village, group_id=group_id,
                                                     only_without_card=form.mode.data != "all")
                return [(h, ks.issue_card(h, actor=current_user)) for h in households]

            issued = run_write(issue_all)  # none to issue writes nothing
            if not issued:
                form.mode.errors = [_("Every household here has a card already; choose 'every household' "
                                      "to print new ones.")]
            else:
                return _sheet(issued, _("Household cards"))
    return render_template("kiosk_admin/cards.html", form=form)
