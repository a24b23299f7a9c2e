"""What the operator watches in intake (R-13): documents registered and refused (counters, per
process), and officers' tasks past their deadline (R-6.4, R-9.4; from the store, the same on
every replica). `handling_facts` feeds both the console and the gauges."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.intake.adapters import repository as repo
from services.intake.domain import handling as rules
from services.intake.domain.verification import VerificationReport
from shared.clock import utcnow
from shared.service import ServiceContext
from shared.workdays import load_calendar

REGISTERED = Counter("vanthu_documents_registered_total", "Incoming documents entered in the register", ["source"])  # axis, paper
REFUSED = Counter("vanthu_documents_refused_total", "Incoming documents refused with status 02, by the first failed check", ["reason"])
TASKS = Gauge("vanthu_handling_tasks", "Officers' open tasks on incoming documents by standing", ["standing"])
OVERDUE = Gauge("vanthu_handling_overdue_tasks", "Officers' tasks past their handling deadline, not completed")

# Verification check → reason label; a short fixed list keeps the label's cardinality low.
REFUSAL_CATEGORIES = {
    "structure": "structure", "required_fields": "structure",
    "sender_known": "sender", "sender_matches_axis": "sender", "addressed_to_us": "recipient",
    "not_secret": "secret",
    "attachment_integrity": "attachment", "attachment_format": "format",
    "signature": "signature",
}
OPEN_STANDINGS = ("overdue", "due_soon", "not_received", "in_progress")


def refusal_category(report: VerificationReport) -> str:
    failed = report.failed_checks()
    return REFUSAL_CATEGORIES.get(failed[0].name, "other") if failed else "other"


def count_refused(report: VerificationReport) -> None:
    REFUSED.labels(reason=refusal_category(report)).inc()


async def handling_facts(ctx: ServiceContext) -> dict:
    """{"overdue": n, "tasks": {standing: n}}: officers' open tasks on registered documents."""
    calendar = load_calendar(ctx.settings.holiday_calendar_file)
    now = utcnow()
    counts = dict.fromkeys(OPEN_STANDINGS, 0)
    cursor = ctx.store.db[repo.DOCUMENTS].find(
        {"state": "registered", "assignment.tasks.0": {"$exists": True},
         "handling.state": {"$ne": rules.HandlingState.COMPLETED.value}},
        projection={"assignment.tasks": 1},
    )
    async for row in cursor:
        for task in row["assignment"]["tasks"]:
            standing = rules.standing(task, now=now, calendar=calendar)
            if standing in counts:
                counts[standing] += 1
    for standing, n in counts.items():
        TASKS.labels(standing=standing).set(n)
    OVERDUE.set(counts["overdue"])
    return {"overdue": counts["overdue"], "tasks": counts}
