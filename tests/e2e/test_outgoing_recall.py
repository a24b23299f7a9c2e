"""Recalling an issued document with every part real (issue 4 point 7; R-7.4): the chairman
decides, a status-13 notice goes to each recipient through the axis, each recipient's answer
(15 withdrawn / 16 refused with the reason) is tracked on its delivery; bad requests are
refused with the reason."""

from __future__ import annotations

import uuid

import httpx
import pytest

from devstack.stack import StackOptions, start_stack
from shared.pdfdocs import DocumentText, render_document
from tests.e2e.test_round_trip import get, statuses_seen_by, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE, HOME_AFFAIRS = "000.01.00.H56", "000.12.00.H56"


@pytest.fixture(scope="module")
def system(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("system")
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, mongodb_url=mongodb_url,
                                              database_prefix=f"e2e{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake", "dispatch", "signing", "archive")}
    urls["axis"] = stack.env["AXIS_URL"]
    yield stack, urls
    stack.stop_all()


def submit(urls, recipients: str, **extra) -> str:
    pdf = render_document(DocumentText(type_name="KẾ HOẠCH", subject="Kế hoạch tổ chức ngày hội đại đoàn kết",
                                       number_notation="Số:      /KH-UBND")).pdf
    response = httpx.post(f"{urls['dispatch']}/outgoing", files={"file": ("kh.pdf", pdf, "application/pdf")},
                          data={"type_name": "Kế hoạch", "subject": "Kế hoạch tổ chức ngày hội đại đoàn kết",
                                "recipients": recipients, "signer_full_name": "Lê Văn Minh", **extra}, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_a_recall_notice_reaches_every_recipient_and_each_answer_is_tracked(system):
    stack, urls = system
    # A document that was never issued (its agency signature was refused) cannot be recalled.
    stopped = submit(urls, PROVINCE_OFFICE, requested_by="cc.tuphap")
    wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{stopped}"), lambda r: r["state"] == "signature_refused",
               what="agency signature refused")
    early = httpx.post(f"{urls['dispatch']}/outgoing/{stopped}/recall", json={"by": "chutich", "reason": "Ban hành nhầm"})
    assert early.status_code == 422 and "đã phát hành" in early.json()["detail"]["problems"][0]
    assert httpx.post(f"{urls['dispatch']}/outgoing/nope/recall", json={"by": "chutich", "reason": "x"}).status_code == 404

    key = submit(urls, f"{PROVINCE_OFFICE},{HOME_AFFAIRS}")
    issued = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: r["state"] == "issued" and all(d.get("business_state") == "accepted" for d in r["deliveries"]),
                        what="issued and registered by both recipients")
    refused = httpx.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "vanthu", "reason": ""})
    assert refused.status_code == 422
    assert len(refused.json()["detail"]["problems"]) == 2  # not a leader's decision, no reason given

    recalled = httpx.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "phochutich", "reason": "Ban hành nhầm kế hoạch"})
    assert recalled.status_code == 202, recalled.text
    assert [d["recall_state"] for d in recalled.json()["deliveries"]] == ["requested", "requested"]
    again = httpx.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "chutich", "reason": "Lần nữa"})
    assert again.status_code == 422 and "trước đó" in again.json()["detail"]["problems"][0]

    # Each recipient sees the notice (13) and answers; the answers are tracked per delivery.
    for agency in (PROVINCE_OFFICE, HOME_AFFAIRS):
        seen = wait_until(lambda a=agency: statuses_seen_by(urls, a, issued["document_id"]),
                          lambda s: any(x["status_code"] == "13" for x in s), what=f"the notice at {agency}")
        assert next(x for x in seen if x["status_code"] == "13")["description"] == "Ban hành nhầm kế hoạch"
    done = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                      lambda r: all(d.get("recall_state") == "agreed" for d in r["deliveries"]), what="both answers 15")
    assert done["recall"]["decided_by"] == "phochutich"
    assert all("thu hồi" in d["recall_answer"] for d in done["deliveries"])
