"""The local axis as the gateway sees it: the VXP operations over HTTP with HMAC-signed
headers (standards.md §2.2), through the gateway's real client (VxpAxisClient)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port
from services.gateway.adapters.axis_client import AxisRejected, AxisUnavailable
from services.gateway.adapters.vxp_axis import VxpAxisClient
from shared.clock import UTC
from shared.edxml import Organization, ResponseFor, StatusCode, StatusPackage, build_status, parse_edoc, parse_status
from shared.vxp import VxpAuthError, signed_headers, verify_headers

REPO = Path(__file__).resolve().parents[2]
COMMUNE = "000.24.26.H56"
OFFICE = "000.01.00.H56"
SECRET = "dev-secret-hoang-duc"
SYSTEM = "vanthu.000.24.26.H56"


@pytest.fixture(scope="module")
def axis(tmp_path_factory):
    port = free_port()
    data = tmp_path_factory.mktemp("axis")
    process = subprocess.Popen(
        [sys.executable, "-m", "localaxis", "--port", str(port), "--data-dir", str(data),
         "--agencies", str(REPO / "deploy/local-axis/agencies.json")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url, data
    process.terminate()
    process.wait(10)


@pytest.fixture
async def client(axis):
    c = VxpAxisClient(axis[0], SYSTEM, SECRET, timeout=30)
    yield c
    await c.close()


def test_signed_headers_verify_and_tampering_is_caught():
    headers = signed_headers({"docId": "42", "status": "done"}, system_id=SYSTEM, secret=SECRET)
    assert verify_headers(headers, {SYSTEM: SECRET}) == (SYSTEM, {"systemid": SYSTEM, "timestamp": headers["XroadVnpt-timestamp"],
                                                                 "docId": "42", "status": "done"})
    with pytest.raises(VxpAuthError):
        verify_headers({**headers, "XroadVnpt-status": "fail"}, {SYSTEM: SECRET})
    with pytest.raises(VxpAuthError):
        verify_headers(headers, {SYSTEM: "another secret"})
    old = signed_headers({}, system_id=SYSTEM, secret=SECRET, now=dt.datetime.now(UTC) - dt.timedelta(minutes=20))
    with pytest.raises(VxpAuthError, match="clock skew"):
        verify_headers(old, {SYSTEM: SECRET})


async def test_wrong_secret_is_rejected(axis):
    bad = VxpAxisClient(axis[0], SYSTEM, "wrong", timeout=10)
    with pytest.raises(AxisRejected):
        await bad.list_received("edoc")
    await bad.close()


async def test_agency_document_is_listed_fetched_and_gone_after_done(axis, client):
    url, _ = axis
    sent = httpx.post(f"{url}/_sim/agencies/{OFFICE}/send", json={"subject": "Thử trục", "count": 2}, timeout=60).json()
    ids = {d["axis_doc_id"] for d in sent["documents"]}
    items = [i for i in await client.list_received("edoc") if i.doc_id in ids]
    assert {i.from_code for i in items} == {OFFICE} and len(items) == 2
    package = parse_edoc(await client.fetch(items[0].doc_id))
    assert package.sender.organ_id == OFFICE and package.recipients[0].organ_id == COMMUNE
    assert package.attachments[0].content.startswith(b"%PDF")
    await client.acknowledge(items[0].doc_id, "processing")  # still offered
    assert items[0].doc_id in {i.doc_id for i in await client.list_received("edoc")}
    await client.acknowledge(items[0].doc_id, "done")
    remaining = {i.doc_id for i in await client.list_received("edoc")}
    assert items[0].doc_id not in remaining and items[1].doc_id in remaining
    await client.acknowledge(items[1].doc_id, "done")


async def test_status_sent_to_an_agency_is_recorded_and_sent_list_tracks_it(axis, client):
    url, _ = axis
    status = StatusPackage(sender=Organization(organ_id=COMMUNE, organ_name="UBND xã Hoằng Đức"),
                           response_for=ResponseFor(organ_id=OFFICE, code="01/VP-TH", document_id="doc-1"),
                           status_code=StatusCode.ARRIVED, description="Đã đến", timestamp=dt.datetime.now(UTC))
    receipt = await client.send(COMMUNE, [OFFICE], "status", build_status(status))
    statuses = httpx.get(f"{url}/_sim/agencies/{OFFICE}/statuses").json()
    for _ in range(50):
        if any(s["response_for_document_id"] == "doc-1" for s in statuses):
            break
        time.sleep(0.1)
        statuses = httpx.get(f"{url}/_sim/agencies/{OFFICE}/statuses").json()
    assert [s["status_code"] for s in statuses if s["response_for_document_id"] == "doc-1"] == ["01"]
    sent = await client.list_sent("status", receipt.doc_id)
    assert [(s.to_code, s.receive_status) for s in sent] == [(OFFICE, "done")]


async def test_send_is_checked_recipient_kind_and_hash(axis, client):
    status = build_status(StatusPackage(sender=Organization(organ_id=COMMUNE), status_code=StatusCode.ARRIVED,
                                        response_for=ResponseFor(organ_id=OFFICE, document_id="x"), timestamp=dt.datetime.now(UTC)))
    with pytest.raises(AxisRejected) as unknown:
        await client.send(COMMUNE, ["000.99.99.H56"], "status", status)
    assert unknown.value.code == "18"
    with pytest.raises(AxisRejected) as wrong_kind:
        await client.send(COMMUNE, [OFFICE], "edoc", status)
    assert wrong_kind.value.code == "22"
    with pytest.raises(AxisRejected) as not_ours:
        await client.send(OFFICE, [OFFICE], "status", status)
    assert not_ours.value.code == "19"


async def test_faults_make_the_axis_unavailable_and_the_crl_unreachable(axis, client):
    url, _ = axis
    httpx.post(f"{url}/_control/faults", json={"unavailable": True}).raise_for_status()
    try:
        with pytest.raises(AxisUnavailable):
            await client.list_received("edoc")
    finally:
        httpx.post(f"{url}/_control/faults", json={}).raise_for_status()
    assert await client.list_received("status") is not None
    assert httpx.get(f"{url}/pki/{OFFICE}/crl").status_code == 200
    httpx.post(f"{url}/_control/crl", json={"reachable": False}).raise_for_status()
    assert httpx.get(f"{url}/pki/{OFFICE}/crl").status_code == 503
    httpx.post(f"{url}/_control/crl", json={"reachable": True}).raise_for_status()


async def test_simulated_agency_answers_a_document_with_01_then_03(axis, client):
    url, _ = axis
    # Take a document the office sent us and send it back to the provincial committee as if it were ours.
    sent = httpx.post(f"{url}/_sim/agencies/{OFFICE}/send", json={"subject": "Chuyển tiếp"}, timeout=60).json()
    axis_doc_id = sent["documents"][0]["axis_doc_id"]
    data = await client.fetch(axis_doc_id)
    await client.acknowledge(axis_doc_id, "done")
    package = parse_edoc(data)
    forwarded = package.model_copy(update={"sender": Organization(organ_id=COMMUNE, organ_name="UBND xã Hoằng Đức"),
                                           "recipients": [Organization(organ_id="000.00.00.H56")]})
    from shared.edxml import build_edoc

    await client.send(COMMUNE, ["000.00.00.H56"], "edoc", build_edoc(forwarded))
    deadline = time.monotonic() + 30
    codes: list[str] = []
    while time.monotonic() < deadline and len(codes) < 2:
        items = await client.list_received("status")
        codes = []
        for item in items:
            status = parse_status(await client.fetch(item.doc_id))
            if status.response_for.document_id == package.document_id:
                codes.append(status.status_code.value)
        time.sleep(0.2)
    assert codes == ["01", "03"]
    inbox = httpx.get(f"{url}/_sim/agencies/000.00.00.H56/inbox").json()
    entry = next(r for r in inbox if r["document_id"] == package.document_id)
    assert [s["field"] for s in entry["signatures"]] == ["ChuKyLanhDao", "ChuKyCoQuan"]
    assert all(s["intact"] and s["valid"] and s["trusted"] for s in entry["signatures"])
