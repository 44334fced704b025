"""The points items that cite a rule article: the points side of the item ↔ article link.

Rules import nothing of points, so the rules' article page gets this lookup from the points blueprint
(app/points/__init__.py installs it with rules.services.install_items_citing).
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..rules.models import point_item_articles
from .models import PointItem


def items_citing(article_id: int) -> list[PointItem]:
    """Points items that cite the article, by code."""
    return list(db.session.scalars(
        sa.select(PointItem).join(point_item_articles, point_item_articles.c.point_item_id == PointItem.id)
        .where(point_item_articles.c.article_id == article_id).order_by(PointItem.code)))
