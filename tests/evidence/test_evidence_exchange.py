"""The evidence log of the axis exchange and the package size limit (issue 7 item 4; R-13,
R-4.1, R-3.4), with the whole system running as processes against the real broker, store,
token, local axis and local TSA.

- every package both ways (documents and status packages) leaves an entry whose SHA-256 and
  size are those of the raw bytes kept, sealed within seconds by an RFC 3161 token;
- `vanthu evidence verify` passes, then exits 1 naming the seq of an entry changed in the store;
- with the TSA off, entries wait unsealed while the exchange goes on; back on, they are sealed;
- a package over the limit is refused unread, its sender gets 02 with the reason, the axis
  stops offering it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from shared.pdfdocs import DocumentText, render_document
from staff_http import http, wait_until, get_or_none as get

pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
HOME_AFFAIRS = "000.12.00.H56"
OPERATOR = "vanhanh"
MAX_PACKAGE_BYTES = 1024 * 1024  # 1 MiB: an oversized package stays quick to build and send


@pytest.fixture(scope="module", autouse=True)
def _limits():
    """The stack's processes read these at start: module-scoped and autouse, so set before `system`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAX_PACKAGE_BYTES", str(MAX_PACKAGE_BYTES))
        patch.setenv("EVIDENCE_SEAL_SECONDS", "1")
        yield






def evidence(urls) -> dict:
    entries, after = [], 0
    while True:
        page = get(f"{urls['gateway']}/evidence?after_seq={after}&limit=1000", as_=OPERATOR)
        entries += page["entries"]
        if len(page["entries"]) < 1000:
            return {**page, "entries": entries}
        after = page["next_after_seq"]


def agency_send(urls, sender: str, **body) -> list[dict]:
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{sender}/send", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()["documents"]


def incoming(urls, document_id: str) -> dict | None:
    for doc in get(f"{urls['intake']}/documents?limit=500") or []:
        if doc.get("response_for", {}).get("document_id") == document_id:
            return doc
    return None


def statuses_seen_by(urls, agency: str, document_id: str) -> list[dict]:
    rows = get(f"{urls['axis']}/_sim/agencies/{agency}/statuses") or []
    return [r for r in rows if r["response_for_document_id"] == document_id]


def verify_cli(stack) -> subprocess.CompletedProcess:
    env = {**stack.env, "COLUMNS": "250"}
    return subprocess.run([str(Path(sys.executable).with_name("vanthu")), "evidence", "verify"], env=env,
                          capture_output=True, text=True, timeout=300)


def gateway_db(stack):
    client = MongoClient(stack.env["MONGODB_URL"], tz_aware=True)
    return client, client[f"{stack.env['DATABASE_PREFIX']}_gateway"]


def test_every_package_both_ways_is_kept_chained_and_sealed(system):
    stack, urls = system
    [sent] = agency_send(urls, PROVINCE_OFFICE, subject="Về việc lưu vết trao đổi văn bản qua trục")
    doc = wait_until(lambda: incoming(urls, sent["document_id"]), lambda d: d is not None and d["state"] == "registered",
                     what="registration")
    wait_until(lambda: statuses_seen_by(urls, PROVINCE_OFFICE, sent["document_id"]),
               lambda s: {"01", "03"} <= {x["status_code"] for x in s}, what="statuses 01 and 03 at the agency")

    # The commune issues a document; the agency answers it with 01 and 03.
    pdf = render_document(DocumentText(type_name="BÁO CÁO", subject="Báo cáo lưu vết trao đổi",
                                       number_notation="Số:      /BC-UBND"), number_fields=True).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("bao-cao.pdf", pdf, "application/pdf")},
                         data={"type_name": "Báo cáo", "subject": "Báo cáo lưu vết trao đổi", "recipients": PROVINCE_OFFICE,
                               "signer_full_name": "Lê Văn Minh"}, timeout=30)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key).status_code == 202  # the leader's own approval (R-7.1)
    record = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: bool(r and r.get("deliveries")) and [s["code"] for s in r["deliveries"][0].get("business_statuses", [])] == ["01", "03"],
                        timeout=240, what="our document issued and answered 01, 03")

    def complete(log):
        ours = [e for e in log["entries"] if e["document_id"] in (sent["document_id"], record["document_id"])]
        return len(ours) == 6 and log["unsealed"] == 0

    log = wait_until(lambda: evidence(urls), complete, timeout=60, what="six entries, all sealed")
    ours = [e for e in log["entries"] if e["document_id"] in (sent["document_id"], record["document_id"])]
    shape = sorted((e["direction"], e["kind"], e["status_code"] or "", e["document_id"] == sent["document_id"]) for e in ours)
    assert shape == sorted([
        ("received", "edoc", "", True), ("sent", "status", "01", True), ("sent", "status", "03", True),  # theirs
        ("sent", "edoc", "", False), ("received", "status", "01", False), ("received", "status", "03", False),  # ours
    ])
    received_doc = next(e for e in ours if e["direction"] == "received" and e["kind"] == "edoc")
    assert received_doc["axis_doc_id"] == sent["axis_doc_id"] and received_doc["sender"] == PROVINCE_OFFICE
    assert received_doc["ref"]["package_id"] == doc["package_id"]
    for entry in ours:
        raw = http.get(f"{urls['gateway']}/blobs/{entry['raw']['sha256']}", timeout=30).content
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"] and len(raw) == entry["size"]
        assert entry["seq"] >= 1 and len(entry["hash"]) == 64 and entry["axis_doc_id"]
    our_doc = next(e for e in ours if e["direction"] == "sent" and e["kind"] == "edoc")
    assert our_doc["recipients"] == [PROVINCE_OFFICE] and our_doc["axis_doc_id"] == record["deliveries"][0]["axis_doc_id"]
    seqs = [e["seq"] for e in log["entries"]]
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free
    assert log["seals"] and log["seals"][-1]["seq_to"] == log["sealed_up_to"] == len(seqs)
    assert all(s["tsa_time"] and s["token_bytes"] > 0 for s in log["seals"])

    result = verify_cli(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
    report = get(f"{urls['gateway']}/evidence/verify", as_=OPERATOR)
    assert report["ok"] and report["sealed_up_to"] == len(seqs)
    status = http.get(f"{urls['gateway']}/ops/status", as_=OPERATOR, timeout=30)
    if status.status_code == 200:  # the operator console's facts, where that route is served
        facts = status.json()
        assert facts["evidence"]["entries"] >= 6 and facts["max_package_bytes"] == MAX_PACKAGE_BYTES


def test_a_redelivered_package_is_kept_as_evidence_once(system):
    """The same bytes as a second axis item: not processed again, but what the axis delivered is
    kept — one entry for the second item, pointing at the first package, counted once even if
    that item is offered again."""
    stack, urls = system
    [sent] = agency_send(urls, PROVINCE_OFFICE, subject="Văn bản được trục gửi lại")
    doc = wait_until(lambda: incoming(urls, sent["document_id"]), lambda d: d is not None and d["state"] == "registered",
                     what="registration")
    again = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/redeliver", json={"axis_doc_id": sent["axis_doc_id"]},
                       timeout=30)
    assert again.status_code == 200, again.text
    second = again.json()["axis_doc_id"]
    log = wait_until(lambda: evidence(urls), lambda log: any(e["axis_doc_id"] == second for e in log["entries"]) and log["unsealed"] == 0,
                     what="the second item in the evidence log, sealed")
    first_entry = next(e for e in log["entries"] if e["axis_doc_id"] == sent["axis_doc_id"])
    [second_entry] = [e for e in log["entries"] if e["axis_doc_id"] == second]
    assert second_entry["ref"] == {"duplicate_of": doc["package_id"]} and second_entry["sha256"] == first_entry["sha256"]
    assert get(f"{urls['gateway']}/packages/{doc['package_id']}")["duplicates"] == 1
    assert len([d for d in get(f"{urls['intake']}/documents?limit=500") if d["response_for"]["document_id"] == sent["document_id"]]) == 1
    assert verify_cli(stack).returncode == 0


def test_a_changed_entry_makes_verify_fail_naming_its_seq(system):
    stack, urls = system
    if not evidence(urls)["entries"]:
        agency_send(urls, HOME_AFFAIRS, subject="Văn bản cho kiểm tra lưu vết")
        wait_until(lambda: evidence(urls), lambda log: log["entries"] and log["unsealed"] == 0, what="an entry sealed")
    assert verify_cli(stack).returncode == 0
    client, db = gateway_db(stack)
    try:
        victim = db["evidence"].find_one({"seq": 1})
        db["evidence"].update_one({"_id": victim["_id"]}, {"$set": {"size": victim["size"] + 1}})
        result = verify_cli(stack)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "BROKEN at seq 1" in result.stdout and "content changed" in result.stdout
        report = get(f"{urls['gateway']}/evidence/verify", as_=OPERATOR)
        assert not report["ok"] and report["first_broken"]["seq"] == 1
        # One byte of the hash itself: the same link named.
        db["evidence"].update_one({"_id": victim["_id"]}, {"$set": {"size": victim["size"],
                                                                    "hash": ("0" if victim["hash"][0] != "0" else "1") + victim["hash"][1:]}})
        result = verify_cli(stack)
        assert result.returncode == 1 and "BROKEN at seq 1" in result.stdout, result.stdout
    finally:
        db["evidence"].replace_one({"_id": victim["_id"]}, victim)
        client.close()
    assert verify_cli(stack).returncode == 0  # restored: the log verifies again


def test_without_the_tsa_entries_wait_and_the_exchange_goes_on(system):
    stack, urls = system
    tsa = stack.env["TSA_URL"].rstrip("/")
    before = evidence(urls)
    httpx.post(f"{tsa}/_control", json={"available": False}, timeout=10).raise_for_status()
    try:
        [sent] = agency_send(urls, HOME_AFFAIRS, subject="Văn bản gửi khi máy chủ dấu thời gian tạm dừng")
        wait_until(lambda: incoming(urls, sent["document_id"]), lambda d: d is not None and d["state"] == "registered",
                   what="registration with the TSA off")
        wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, sent["document_id"]),
                   lambda s: {"01", "03"} <= {x["status_code"] for x in s}, what="statuses with the TSA off")
        log = wait_until(lambda: evidence(urls),
                         lambda log: sum(e["document_id"] == sent["document_id"] for e in log["entries"]) == 3,
                         what="three entries chained")
        time.sleep(3)  # well past the seal interval: still nothing sealed
        log = evidence(urls)
        assert log["sealed_up_to"] == before["sealed_up_to"] and log["unsealed"] >= 3
        metrics = httpx.get(f"{urls['gateway']}/metrics", timeout=10).text
        gauge = next(line for line in metrics.splitlines() if line.startswith("vanthu_evidence_unsealed_entries "))
        assert float(gauge.split()[1]) >= 3
        assert verify_cli(stack).returncode == 0  # waiting is not broken
    finally:
        httpx.post(f"{tsa}/_control", json={"available": True}, timeout=10).raise_for_status()
    log = wait_until(lambda: evidence(urls), lambda log: log["unsealed"] == 0, timeout=90, what="sealed once the TSA is back")
    assert log["sealed_up_to"] == len(log["entries"])
    assert verify_cli(stack).returncode == 0


def test_an_oversized_package_is_refused_unread_and_the_sender_told(system):
    stack, urls = system
    [sent] = agency_send(urls, HOME_AFFAIRS, subject="Văn bản kèm phụ lục quá lớn", attachment_bytes=2 * MAX_PACKAGE_BYTES)
    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, sent["document_id"]),
                          lambda s: any(x["status_code"] == "02" for x in s), what="status 02 at the sender")
    refusal = next(s for s in statuses if s["status_code"] == "02")
    assert "vượt quá giới hạn 1 MB" in refusal["description"]
    packages = get(f"{urls['gateway']}/packages?limit=500")
    package = next(p for p in packages if p["axis_doc_id"] == sent["axis_doc_id"])
    assert package["outcome"] == "refused" and package["package"] is None
    assert package["document_id"] == sent["document_id"]  # read from the header only
    assert incoming(urls, sent["document_id"]) is None  # never handed to intake
    # Acknowledged on the axis: not offered again.
    with sqlite3.connect(f"file:{stack.var_dir / 'axis' / 'axis.sqlite3'}?mode=ro", uri=True) as axis_db:
        [(state,)] = axis_db.execute("SELECT status FROM items WHERE doc_id = ?", (sent["axis_doc_id"],)).fetchall()
    assert state == "fail"
    log = wait_until(lambda: evidence(urls),
                     lambda log: sum(e["document_id"] == sent["document_id"] for e in log["entries"]) == 2 and log["unsealed"] == 0,
                     what="the refused package and its 02 in the evidence log, sealed")
    refused = next(e for e in log["entries"] if e["document_id"] == sent["document_id"] and e["direction"] == "received")
    assert refused["raw"] is None and refused["refused"].startswith("gói tin vượt quá giới hạn") and refused["size"] > MAX_PACKAGE_BYTES
    answer = next(e for e in log["entries"] if e["document_id"] == sent["document_id"] and e["direction"] == "sent")
    assert answer["status_code"] == "02" and answer["recipients"] == [HOME_AFFAIRS]
    assert verify_cli(stack).returncode == 0


def _padded_pdf(size: int) -> bytes:
    """A readable PDF of about `size` bytes: an incremental update carrying a random stream."""
    import io
    import os

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    pdf = render_document(DocumentText(type_name="BÁO CÁO", subject="Báo cáo kèm số liệu rất lớn",
                                       number_notation="Số:      /BC-UBND"), number_fields=True).pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/VanthuPadding"] = writer.add_object(generic.StreamObject(stream_data=os.urandom(size)))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_outgoing_document_too_large_for_the_axis_is_refused_at_issuing(system):
    stack, urls = system
    response = http.post(f"{urls['dispatch']}/outgoing",
                         files={"file": ("bao-cao.pdf", _padded_pdf(MAX_PACKAGE_BYTES), "application/pdf")},
                         data={"type_name": "Báo cáo", "subject": "Báo cáo kèm số liệu rất lớn", "recipients": PROVINCE_OFFICE,
                               "signer_full_name": "Lê Văn Minh"}, timeout=60)
    assert response.status_code == 422, response.text
    assert "vượt quá giới hạn 1 MB" in response.json()["detail"]
    # Nothing was taken: no number used, nothing signed.
    assert not [r for r in get(f"{urls['dispatch']}/outgoing?limit=500") if r["subject"] == "Báo cáo kèm số liệu rất lớn"]


def test_a_send_over_the_limit_is_failed_by_the_gateway_with_the_reason(system):
    """Whatever reaches the gateway anyway (a requester that did not check) is never offered to
    the axis: the send is failed at once with the reason, told to the requester, and nothing
    enters the evidence log."""
    import asyncio
    import base64
    import uuid

    import aio_pika

    from shared.bus.topology import EVENTS_EXCHANGE
    from shared.contracts.messages import SendRequested

    stack, urls = system
    request = SendRequested(send_id=uuid.uuid4().hex, requested_by="dispatch", recipients=[PROVINCE_OFFICE],
                            message_kind="edoc", document_id=f"{uuid.uuid4().hex},2026/12/01,1/BC-UBND",
                            package_b64=base64.b64encode(b"<edXML>" + b"0" * (MAX_PACKAGE_BYTES + 1)).decode())

    async def publish() -> None:
        connection = await aio_pika.connect(stack.env["AMQP_URL"])
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            await exchange.publish(aio_pika.Message(request.model_dump_json().encode(), content_type="application/json",
                                                    message_id=request.message_id, type=request.message_type(),
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key=request.full_routing_key(), mandatory=True)

    asyncio.run(publish())
    send = wait_until(lambda: get(f"{urls['gateway']}/sends/{request.send_id}"), lambda s: s is not None, what="the send recorded")
    assert send["state"] == "failed" and send["attempts"] == 0 and send["package"] is None
    assert send["last_error"].startswith("gói tin vượt quá giới hạn 1 MB")
    assert not [e for e in evidence(urls)["entries"] if e["document_id"] == request.document_id]
