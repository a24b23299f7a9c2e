"""R-4.2a as the operator watches it (R-13): outgoing documents signed but not issued by their
issuing deadline, and those issued after it. One query serves GET /issuing/late, the console
(GET /ops/status) and the gauges; documents issued are counted per process."""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import issue_standing
from shared.clock import utcnow
from shared.service import ServiceContext

ISSUED = Counter("vanthu_documents_issued_total", "Outgoing documents issued (numbered, signed, sent to their recipients)", ["urgency"])
LATE = Gauge("vanthu_issuing_late_documents", "R-4.2a: overdue = signed, not issued past the deadline; late = issued after it", ["standing"])


def count_issued(record: dict) -> None:
    ISSUED.labels(urgency="urgent" if record.get("urgency", 0) > 0 else "normal").inc()


async def late_issuing_rows(db, now: dt.datetime) -> dict[str, list[dict]]:
    """{"overdue": [...], "late": [...]}, each row with its `issue_standing`, deadline first."""
    rows = await db[repo.OUTGOING].find(
        {"issue_due_at": {"$exists": True}},
        projection={"code": 1, "subject": 1, "state": 1, "issue_due_at": 1, "issued_at": 1, "urgency": 1},
        sort=[("issue_due_at", 1)],
    ).to_list()
    flagged: dict[str, list[dict]] = {"overdue": [], "late": []}
    for row in rows:
        standing = issue_standing(row, now)
        if standing in flagged:
            flagged[standing].append({**row, "issue_standing": standing})
    return flagged


async def issuing_facts(ctx: ServiceContext) -> dict:
    """{"issuing_late": n overdue now, "issued_late": n issued after their deadline}."""
    flagged = await late_issuing_rows(ctx.store.db, utcnow())
    for standing, rows in flagged.items():
        LATE.labels(standing=standing).set(len(rows))
    return {"issuing_late": len(flagged["overdue"]), "issued_late": len(flagged["late"])}
