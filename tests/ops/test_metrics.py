"""Metrics from every service and the operator's facts, with the whole system running (issue 7
item 1, R-13): each process answers /metrics; documents arriving from a simulated agency move
intake's registered and refused counters and the gateway's poll results; the token answers
through PKCS#11 and every certificate has days left; an outgoing document counts as issued and
its signatures by level; GET /ops/status carries the facts of each service's hooks, and the
gauges fed by the same functions agree with them."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.intake.handlers.health import REFUSAL_CATEGORIES
from shared.contracts.messages import PackageReceived
from shared.pdfdocs import DocumentText, render_document
from staff_http import http, wait_until

pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
HOME_AFFAIRS = "000.12.00.H56"
SERVICES = ("gateway", "intake", "dispatch", "signing", "archive", "portal")
OPERATOR = "vanhanh"


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(response.text) for s in family.samples]


def value(samples, name: str, **labels) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when none)."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items()))


def present(samples, name: str, **labels) -> bool:
    return any(n == name and all(ls.get(k) == w for k, w in labels.items()) for n, ls, _ in samples)




def agency_send(urls, sender: str, **body) -> str:
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{sender}/send", json=body, timeout=120)
    assert response.status_code == 200, response.text
    [document] = response.json()["documents"]
    return document["document_id"]


def incoming(urls, document_id: str) -> dict | None:
    rows = http.get(f"{urls['intake']}/documents?limit=500", timeout=10).json()
    return next((d for d in rows if d.get("response_for", {}).get("document_id") == document_id), None)


def ops_status(urls, service: str) -> dict:
    response = http.get(f"{urls[service]}/ops/status", as_=OPERATOR, timeout=30)
    assert response.status_code == 200, (service, response.status_code, response.text)
    return response.json()


def test_every_service_answers_metrics_with_its_store_and_broker(system):
    _, urls = system
    for service in SERVICES:
        samples = wait_until(lambda: scrape(urls[service]),
                             lambda s: value(s, "vanthu_store_up") == 1 and value(s, "vanthu_broker_connected") == 1,
                             timeout=60, what=f"{service}: store and broker up in /metrics")
        assert value(samples, "vanthu_service_info", service=service) == 1
        assert value(samples, "vanthu_store_ping_seconds_count") >= 1  # the periodic ping was timed
        assert not present(samples, "vanthu_token_available") or service == "signing"  # each exports its own


def test_incoming_documents_move_the_registered_refused_and_poll_counters(system):
    _, urls = system
    before_intake, before_gateway = scrape(urls["intake"]), scrape(urls["gateway"])
    good = agency_send(urls, PROVINCE_OFFICE, subject="Về việc báo cáo số liệu vận hành")
    tampered = agency_send(urls, HOME_AFFAIRS, subject="Văn bản không có chữ ký số", fault="unsigned")
    wait_until(lambda: incoming(urls, good), lambda d: d is not None and d["state"] == "registered", what="registration")
    refused = wait_until(lambda: incoming(urls, tampered), lambda d: d is not None and d["state"] == "refused", what="refusal")
    # Counted under its first failed check's category (R-6.1: here the signature, which is missing).
    first_failed = next(c["name"] for c in refused["verification"]["checks"] if c["outcome"] == "failed")
    category = REFUSAL_CATEGORIES.get(first_failed, "other")
    assert category == "signature", first_failed

    after = scrape(urls["intake"])
    assert value(after, "vanthu_documents_registered_total", source="axis") == \
        value(before_intake, "vanthu_documents_registered_total", source="axis") + 1
    assert value(after, "vanthu_documents_refused_total", reason=category) == \
        value(before_intake, "vanthu_documents_refused_total", reason=category) + 1
    assert value(after, "vanthu_documents_refused_total") == value(before_intake, "vanthu_documents_refused_total") + 1
    assert value(after, "vanthu_bus_consumed_total", queue="intake.packages", outcome="ok") >= 2
    assert value(after, "vanthu_bus_handler_seconds_count", queue="intake.packages") >= 2

    gateway = scrape(urls["gateway"])
    assert value(gateway, "vanthu_gateway_packages_received_total", kind="edoc", outcome="new") >= \
        value(before_gateway, "vanthu_gateway_packages_received_total", kind="edoc", outcome="new") + 2
    assert value(gateway, "vanthu_axis_polls_total", outcome="ok") > value(before_gateway, "vanthu_axis_polls_total", outcome="ok")
    assert value(gateway, "vanthu_axis_up") == 1
    assert time.time() - value(gateway, "vanthu_axis_last_successful_poll_timestamp_seconds") < 60
    # PackageReceived left through the outbox, confirmed by the broker.
    assert value(gateway, "vanthu_bus_published_total", message_type=PackageReceived.message_type(), outcome="confirmed") >= \
        value(before_gateway, "vanthu_bus_published_total", message_type=PackageReceived.message_type(), outcome="confirmed") + 2
    assert value(gateway, "vanthu_store_transaction_seconds_count", outcome="committed") >= 2


def test_the_token_answers_and_every_certificate_has_days_left(system):
    _, urls = system
    samples = wait_until(lambda: scrape(urls["signing"]),
                         lambda s: value(s, "vanthu_token_available") == 1 and present(s, "vanthu_certificate_days_left", kind="tsa"),
                         what="token checked and the TSA's certificate read")
    for key in ("agency", "chairman"):
        assert value(samples, "vanthu_certificate_days_left", kind="key", certificate=key) > 0, key
        assert value(samples, "vanthu_certificate_not_after_timestamp_seconds", kind="key", certificate=key) > time.time()
    assert value(samples, "vanthu_certificate_days_left", kind="ca") > 0
    assert value(samples, "vanthu_certificate_days_left", kind="tsa") > 0

    facts = ops_status(urls, "signing")
    assert facts["token"]["available"] is True and facts["token"]["error"] is None
    assert facts["token"]["label"] and facts["token"]["module"]
    by_key = {c["key"]: c for c in facts["certificates"] if c["kind"] == "key"}
    assert set(by_key) == {"agency", "chairman"}
    for cert in by_key.values():
        assert cert["days_left"] > 0 and cert["not_after"] and cert["subject"] and cert["holder"]
    # One source: the console's days and the gauge's agree.
    assert by_key["agency"]["days_left"] == value(scrape(urls["signing"]), "vanthu_certificate_days_left", kind="key", certificate="agency")


def test_an_issued_document_counts_as_issued_with_its_signatures_by_level(system):
    _, urls = system
    before_dispatch, before_signing = scrape(urls["dispatch"]), scrape(urls["signing"])
    pdf = render_document(DocumentText(type_name="BÁO CÁO", subject="Báo cáo vận hành hệ thống",
                                       number_notation="Số:      /BC-UBND"), number_fields=True).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("bao-cao.pdf", pdf, "application/pdf")},
                         data={"type_name": "Báo cáo", "subject": "Báo cáo vận hành hệ thống",
                               "recipients": PROVINCE_OFFICE, "signer_full_name": "Lê Văn Minh"}, timeout=30)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key).status_code == 202  # the leader's own approval
    wait_until(lambda: http.get(f"{urls['dispatch']}/outgoing/{key}", timeout=10).json(),
               lambda r: r.get("state") == "issued", what="issued")

    dispatch = scrape(urls["dispatch"])
    assert value(dispatch, "vanthu_documents_issued_total", urgency="normal") == \
        value(before_dispatch, "vanthu_documents_issued_total", urgency="normal") + 1
    signing = scrape(urls["signing"])
    for role in ("leader", "agency"):
        labels = {"role": role, "level": "PAdES-B-T", "outcome": "signed"}
        assert value(signing, "vanthu_signing_signatures_total", **labels) == \
            value(before_signing, "vanthu_signing_signatures_total", **labels) + 1, role

    # Issued the same working day: nothing late against R-4.2a, on the console and the gauge alike.
    facts = ops_status(urls, "dispatch")
    assert facts["issuing_late"] == 0 and isinstance(facts["issued_late"], int)
    late = http.get(f"{urls['dispatch']}/issuing/late", timeout=10)  # the same query, for the clerk
    assert late.status_code == 200, late.text
    assert len(late.json()["overdue"]) == facts["issuing_late"] and len(late.json()["late"]) == facts["issued_late"]
    assert value(scrape(urls["dispatch"]), "vanthu_issuing_late_documents", standing="overdue") == 0


def test_status_facts_of_the_axis_link_fixity_and_deadlines(system):
    _, urls = system
    axis = ops_status(urls, "gateway")["axis"]
    assert axis["url"] == urls["axis"] or axis["url"].rstrip("/") == urls["axis"].rstrip("/")
    assert axis["reachable"] is True and axis["last_error"] is None
    assert axis["last_poll_at"] and axis["last_successful_poll_at"]
    assert isinstance(axis["sends_waiting"], int) and isinstance(axis["sends_failed"], int)
    assert value(scrape(urls["gateway"]), "vanthu_gateway_sends", state="failed") == axis["sends_failed"]

    # A fixity run over what the archive kept (the documents of the tests above): passed, and the
    # console and the gauges say so.
    run = http.post(f"{urls['archive']}/fixity/run", as_=OPERATOR, timeout=120)
    assert run.status_code == 200, run.text
    fixity = ops_status(urls, "archive")["fixity"]
    assert fixity["last_run"]["id"] == run.json()["id"] and fixity["last_run"]["verdict"] == "passed"
    assert fixity["open_alerts"] == 0 and fixity["latest_state"] == "finished"
    samples = scrape(urls["archive"])
    assert value(samples, "vanthu_fixity_last_run_failed") == 0 and value(samples, "vanthu_fixity_open_alerts") == 0
    assert value(samples, "vanthu_fixity_last_run_files", outcome="ok") == fixity["last_run"]["counts"]["ok"]

    intake = ops_status(urls, "intake")
    assert intake["overdue"] == 0 and set(intake["tasks"]) == {"overdue", "due_soon", "not_received", "in_progress"}
    assert value(scrape(urls["intake"]), "vanthu_handling_overdue_tasks") == 0


def test_an_unreachable_axis_is_said_by_the_gauge_and_the_console_then_recovers(system):
    _, urls = system
    httpx.post(f"{urls['axis']}/_control/faults", json={"unavailable": True}, timeout=10).raise_for_status()
    try:
        samples = wait_until(lambda: scrape(urls["gateway"]), lambda s: value(s, "vanthu_axis_up") == 0,
                             timeout=60, what="vanthu_axis_up 0 while the axis answers 503")
        assert value(samples, "vanthu_axis_polls_total", outcome="unavailable") >= 1
        axis = ops_status(urls, "gateway")["axis"]
        assert axis["reachable"] is False and "503" in axis["last_error"]
        # The last success is kept: the alert "no successful poll for 10 min" reads it.
        assert axis["last_successful_poll_at"] is not None
    finally:
        httpx.post(f"{urls['axis']}/_control/faults", json={}, timeout=10).raise_for_status()
    wait_until(lambda: scrape(urls["gateway"]), lambda s: value(s, "vanthu_axis_up") == 1,
               timeout=60, what="vanthu_axis_up 1 once the axis is back")
    axis = ops_status(urls, "gateway")["axis"]
    assert axis["reachable"] is True and axis["last_error"] is None
