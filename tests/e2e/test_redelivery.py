"""Re-delivery until acknowledged (issue 4 point 6; R-7.4): a recipient whose system takes the
document but never acknowledges it (status 01) gets it again, at most REDELIVERY_MAX times; then
it is listed for the clerk. An acknowledging recipient is never sent it twice."""

from __future__ import annotations

import uuid

import httpx
import pytest

from devstack.stack import StackOptions, start_stack
from shared.pdfdocs import DocumentText, render_document
from staff_http import http
from tests.e2e.test_round_trip import get, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE, HOME_AFFAIRS = "000.01.00.H56", "000.12.00.H56"


@pytest.fixture(scope="module")
def quick(tmp_path_factory, mongodb_url, amqp_url):
    stack = start_stack(StackOptions.isolated(
        tmp_path_factory.mktemp("system"), amqp_url=amqp_url, mongodb_url=mongodb_url,
        database_prefix=f"e2e{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5,
        extra_env={"REDELIVERY_AFTER_SECONDS": "2", "REDELIVERY_CHECK_SECONDS": "0.5", "REDELIVERY_MAX": "2"}))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("dispatch", "axis")}
    http.use_keys(stack.env["AUTH_KEYS_DIR"])  # calls carry staff tokens
    yield stack, urls
    stack.stop_all()


def test_an_unacknowledged_document_is_sent_again_then_shown_to_the_clerk(quick):
    stack, urls = quick
    httpx.post(f"{urls['axis']}/_control/faults", json={"silent_agencies": [HOME_AFFAIRS]}).raise_for_status()
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject="Thông báo gửi lại", number_notation="Số:      /TB-UBND")).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("tb.pdf", pdf, "application/pdf")}, timeout=30,
                          data={"type_name": "Thông báo", "subject": "Thông báo gửi lại",
                                "recipients": f"{HOME_AFFAIRS},{PROVINCE_OFFICE}", "signer_full_name": "Lê Văn Minh"})
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key).status_code == 202  # the leader's own approval

    def deliveries():
        return {d["organ_id"]: d for d in get(f"{urls['dispatch']}/outgoing/{key}").get("deliveries") or []}

    done = wait_until(deliveries, lambda d: d and len(d[HOME_AFFAIRS].get("redeliveries") or []) == 2
                      and d[HOME_AFFAIRS].get("transport_state") == "accepted", timeout=120, what="sent again twice")
    assert not done[PROVINCE_OFFICE].get("redeliveries")  # it acknowledged: never sent twice
    assert [s["code"] for s in done[PROVINCE_OFFICE]["business_statuses"]][:1] == ["01"]
    document_id = get(f"{urls['dispatch']}/outgoing/{key}")["document_id"]
    inbox = [r for r in get(f"{urls['axis']}/_sim/agencies/{HOME_AFFAIRS}/inbox") if r["document_id"] == document_id]
    assert len(inbox) == 3  # the first delivery and two more, the same document
    [listed] = [row for row in get(f"{urls['dispatch']}/deliveries/unacknowledged") if row["id"] == key]
    assert listed["recipients"] == [{"organ_id": HOME_AFFAIRS, "name": "Sở Nội vụ tỉnh Thanh Hóa", "transport_state": "accepted",
                                     "redeliveries": 2, "given_up": True}]
    httpx.post(f"{urls['axis']}/_control/faults", json={}).raise_for_status()
