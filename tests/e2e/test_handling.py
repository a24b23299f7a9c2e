"""Routing, assignment and handling of a registered document with every part real (issue 3;
R-6.3, R-6.4, R-10.3, R-3.4, R-4.2c, R-6.2): the chairman's queue puts urgent documents first;
the chairman assigns a lead and a cooperating officer; the lead receives it (deadline from
receipt, in working days), reports progress and completes; the sender sees 04, 05, 06; a recall
after completion is refused 16."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from devstack.stack import StackOptions, start_stack
from tests.e2e.test_round_trip import agency_send, get, incoming_by_document_id, statuses_seen_by, wait_until

pytestmark = pytest.mark.e2e

HOME_AFFAIRS = "000.12.00.H56"


@pytest.fixture(scope="module")
def system(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("system")
    stack = start_stack(
        StackOptions.isolated(
            var, amqp_url=amqp_url, mongodb_url=mongodb_url, database_prefix=f"e2e{uuid.uuid4().hex[:8]}",
            axis_poll_interval=0.5,
        )
    )
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake", "dispatch", "signing", "archive")}
    urls["axis"] = stack.env["AXIS_URL"]
    yield stack, urls
    stack.stop_all()


def registered(urls, document_id: str) -> dict:
    return wait_until(lambda: incoming_by_document_id(urls, document_id),
                      lambda d: d is not None and d["state"] == "registered", what="registration")


def post(url: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(url, json=body or {}, timeout=30)


def test_assignment_receipt_progress_and_completion_reach_the_sender_as_04_05_06(system):
    stack, urls = system
    due = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    [normal_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc báo cáo số liệu cán bộ", due_date=due)
    [urgent_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc phòng chống bão số 9", urgency=3)
    normal, urgent = registered(urls, normal_id), registered(urls, urgent_id)
    assert normal["handling"]["state"] == "awaiting_assignment"

    # The chairman's queue: the urgent one first although it arrived later (R-4.2c, R-6.3).
    queue = [row["id"] for row in get(f"{urls['intake']}/handling/awaiting-assignment")]
    assert queue.index(urgent["id"]) < queue.index(normal["id"])

    # Bad requests are refused with the reason, and change nothing.
    refused = post(f"{urls['intake']}/documents/{normal['id']}/assignment",
                   {"by": "cc.vanphong", "lead": {"officer": "cc.tuphap", "working_days": 3}})
    assert refused.status_code == 422 and "Chủ tịch" in refused.json()["detail"]
    assert post(f"{urls['intake']}/documents/nope/assignment",
                {"by": "chutich", "lead": {"officer": "cc.tuphap", "working_days": 3}}).status_code == 404

    assigned = post(f"{urls['intake']}/documents/{normal['id']}/assignment", {
        "by": "chutich", "note": "Giao công chức Tư pháp chủ trì, Văn phòng phối hợp; báo cáo đúng hạn.",
        "lead": {"officer": "cc.tuphap", "working_days": 5}, "cooperating": [{"officer": "cc.vanphong", "working_days": 3}]})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["handling"] == {"state": "assigned", "reply_due": due, "reply_required": True}
    assert normal["id"] not in [row["id"] for row in get(f"{urls['intake']}/handling/awaiting-assignment")]

    work = get(f"{urls['intake']}/officers/cc.tuphap/work")
    [item] = [i for i in work["items"] if i["id"] == normal["id"]]
    assert item["standing"] == "not_received" and item["role"] == "lead" and item["reply_owed"]

    received = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/received")
    assert received.status_code == 200, received.text
    [lead_task] = [t for t in received.json()["assignment"]["tasks"] if t["officer"] == "cc.tuphap"]
    assert lead_task["received_at"] and lead_task["deadline"]  # runs from receipt
    assert received.json()["handling"]["state"] == "in_progress"

    assert post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/progress",
                {"note": "Đã tổng hợp số liệu của các thôn"}).status_code == 200
    # The cooperating officer has not received it yet: completing is refused.
    early = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.vanphong/completed", {"note": "xong"})
    assert early.status_code == 409 and "nhận văn bản trước" in early.json()["detail"]
    done = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/completed", {"note": "Đã gửi báo cáo"})
    assert done.status_code == 200 and done.json()["handling"]["state"] == "completed"

    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, normal_id),
                          lambda s: len(s) >= 5, what="04, 05, 06 at the sender")
    assert [s["status_code"] for s in statuses] == ["01", "03", "04", "05", "06"]
    assert "Lê Văn Thành" in statuses[2]["description"] and "Hoàng Thị Lan" in statuses[2]["description"]

    # Every change is in the audit log.
    document = get(f"{urls['intake']}/documents/{normal['id']}")
    assert [s["code"] for s in document["statuses"]] == ["01", "03", "04", "05", "06"]
    import pymongo

    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_intake"]
    actions = [a["action"] for a in db["audit_log"].find({"subject_id": normal["id"]}, sort=[("at", 1)])]
    for action in ("incoming.assigned", "incoming.received_by_officer", "incoming.progress", "incoming.completed_by_officer"):
        assert action in actions

    # Handled to the end: a recall now is refused with the reason.
    httpx.post(f"{urls['axis']}/_sim/agencies/{HOME_AFFAIRS}/recall", json={"document_id": normal_id}, timeout=30)
    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, normal_id), lambda s: len(s) >= 6, what="16")
    assert statuses[-1]["status_code"] == "16" and "xử lý xong" in statuses[-1]["description"]
    assert get(f"{urls['intake']}/documents/{normal['id']}")["state"] == "registered"
