"""Figure 5 in its own process: print the bench village's published 300-article rule version as the A5
booklet several times; the first print includes the font set-up, the others are what a warm web worker does.

    python -m bench.booklet_task RUNS        # prints one line of JSON
"""
from __future__ import annotations

import io
import json
import os
import sys
import time

import sqlalchemy as sa

from .common import make_app


def main(runs: int) -> dict:
    from pypdf import PdfReader

    app = make_app(os.environ["BENCH_DATABASE_URL"])
    with app.app_context(), app.test_request_context("/"):
        from app.extensions import db
        from app.registry.models import Village
        from app.rules.models import RuleArticle, RuleVersion, VersionStatus
        from app.rules.views import booklet_pdf

        n_articles = sa.select(sa.func.count()).where(RuleArticle.version_id == RuleVersion.id).scalar_subquery()
        version = db.session.scalar(
            sa.select(RuleVersion).join(Village, Village.id == RuleVersion.village_id)
            .where(Village.code == "bench", RuleVersion.status == VersionStatus.PUBLISHED.value)
            .order_by(n_articles.desc()).limit(1))
        if version is None:
            raise SystemExit("no published rule version in the bench village: run the generator")
        times, pdf = [], b""
        for _ in range(runs):
            t0 = time.perf_counter()
            pdf = booklet_pdf(version)
            times.append(time.perf_counter() - t0)
        return {"articles": len(version.articles), "pages": len(PdfReader(io.BytesIO(pdf)).pages),
                "bytes": len(pdf), "first_s": times[0], "warm_s": times[1:] or times}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)))
