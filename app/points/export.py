"""The points ledger as of a chosen day, for .xlsx / .csv (app.tabular.export): each household's balance
at the end of that day (village time), and every movement of points up to it."""
from __future__ import annotations

import datetime as dt
from itertools import islice

import sqlalchemy as sa
from flask_babel import gettext as _

from ..db import local_midnight_utc
from ..extensions import db
from ..filters import label
from ..ledger.queries import household_balances_before, household_movements_before
from ..registry.models import Household, Person, VillagerGroup
from ..tabular.export import Sheet, local_moment
from . import item_import as imp
from .models import PointCategory, PointEntry, PointItem

#: movements whose entries are looked up at once
_BATCH = 500


class LedgerExport:
    """Balances and movements as they stood at the end of `as_of`. `households` and `transfers` count
    what was written once the sheets have been read."""

    def __init__(self, village_id: int, as_of: dt.date):
        self.village_id, self.as_of = village_id, as_of
        #: the first moment after the day, as stored (naive UTC): transfers before it are counted
        self.before = local_midnight_utc(as_of + dt.timedelta(days=1))
        self.households = self.transfers = 0
        self._households: list | None = None

    def _household_list(self) -> list:
        if self._households is None:
            self._households = db.session.execute(
                sa.select(Household.id, Household.number, Person.name, VillagerGroup.name, Household.status)
                .outerjoin(Person, Person.id == Household.head_id)
                .outerjoin(VillagerGroup, VillagerGroup.id == Household.group_id)
                .where(Household.village_id == self.village_id).order_by(Household.number, Household.id)).all()
        return self._households

    def _household_rows(self):
        balances = household_balances_before(self.village_id, self.before)
        for hid, number, head, group, status in self._household_list():
            self.households += 1
            yield [number, head or "", group or "", label(status, "household_status"), balances.get(hid, 0)]

    def _entry_texts(self, ids) -> dict[int, str]:
        ids = {i for i in ids if i}
        if not ids:
            return {}
        return dict(db.session.execute(sa.select(PointEntry.id, PointEntry.item_text).where(
            PointEntry.id.in_(ids), PointEntry.village_id == self.village_id)).all())

    def _movement_rows(self):
        people = {hid: (number, head or "") for hid, number, head, _g, _s in self._household_list()}
        movements = household_movements_before(self.village_id, self.before)
        while batch := list(islice(movements, _BATCH)):
            texts = self._entry_texts(m.entry_id for m in batch)
            for m in batch:
                number, head = people.get(m.household_id, ("", ""))
                text = texts.get(m.entry_id) if m.entry_id else None
                self.transfers += 1
                yield [m.transfer_id, local_moment(m.created_at), number, head, label(m.code, "transfer_code"),
                       m.points, text or m.memo or "", label(m.source, "source"), m.reverses_transfer_id]

    def sheets(self) -> list[Sheet]:
        day = self.as_of.isoformat()
        return [
            Sheet(_("Balances on %(date)s", date=day),
                  [_("Household number"), _("Head"), _("Group"), _("Status"),
                   _("Balance at the end of %(date)s", date=day)],
                  self._household_rows(), widths=[12, 12, 12, 10, 18], text_columns=[0]),
            Sheet(_("Movements to %(date)s", date=day),
                  [_("Transfer no."), _("Time"), _("Household number"), _("Head"), _("Kind"), _("Points"),
                   _("Item or note"), _("Source"), _("Reverses transfer no.")],
                  self._movement_rows(), widths=[10, 17, 12, 12, 12, 10, 40, 12, 14], text_columns=[2]),
        ]


# --- the scheme's items (积分细则) ----------------------------------------------------------------------

def item_row(category: str, direction: str, item) -> list:
    """One item (a PointItem, or ItemData) as a row of the item import's format (item_import.COLUMNS):
    the table `check_items` reads back to the same item."""
    if item.judgement:
        points = item.effect
    elif item.points_min is not None:
        points = f"{item.points_min:+d}至{item.points_max:+d}"
    elif item.amount_per:
        verb = "加" if item.points > 0 else "扣"
        points = f"每{item.amount_per}{item.amount_unit}{verb}{abs(item.points)}分"
    else:
        points = item.points
    capped = item.cap_period != "none" and item.cap_points
    return [category, imp.DIRECTION_LABELS[direction], item.code, item.text, points,
            imp.UNIT_LABELS[item.unit],
            imp.CAP_PERIOD_LABELS[item.cap_period if capped else "none"], item.cap_points if capped else None,
            imp.LEVEL_LABELS[item.level], imp.APPLIES_LABELS[item.applies_to],
            "是" if item.evidence_required else "否", item.article_ref, item.note,
            item.cap_group if capped else None]


def item_sheet(scheme_id: int) -> Sheet:
    """The scheme's items in the import's own columns (headers are Chinese data, like the import's)."""
    rows = db.session.execute(
        sa.select(PointItem, PointCategory.name, PointCategory.direction)
        .join(PointCategory, PointItem.category_id == PointCategory.id)
        .where(PointItem.scheme_id == scheme_id, PointItem.active)
        .order_by(PointCategory.sort, PointCategory.id, PointItem.code)).all()
    return Sheet(imp.DEFAULT_SCHEME_NAME, list(imp.COLUMNS),
                 (item_row(name, direction, item) for item, name, direction in rows),
                 widths=[14, 6, 8, 40, 10, 8, 8, 8, 8, 6, 8, 16, 30, 16], text_columns=[2])
