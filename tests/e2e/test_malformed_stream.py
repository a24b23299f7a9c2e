"""A stream of malformed envelopes and attachments through the whole system (issue 3; R-3.4,
R-6.1, R-4.5, R-1.2): a simulated agency sends, over the real VXP protocol, packages that
hypothesis damages — bytes flipped, fields cut, attachments of the wrong format, named with a
lying extension, empty, unsigned PDFs, secret subjects, addressed elsewhere. Afterwards:
every package the axis accepted has its 02 with a reason at the sender; the axis refused the
rest at once with a reason; no document is left half-registered; nothing waits in a
dead-letter queue; every service is still up. 2000 envelopes (VANTHU_MALFORMED_N changes it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os

import aio_pika
import httpx
import pymongo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bus.topology import TOPOLOGY
from shared.edxml import (
    Attachment,
    Business,
    Code,
    DocumentType,
    EdocPackage,
    Organization,
    OtherInfo,
    PromulgationInfo,
    SignerInfo,
    build_edoc,
)
from shared.pdfdocs import render_document
from shared.vxp import signed_headers
from staff_http import http
from tests.e2e.test_round_trip import wait_until
from tests.unit.edxml.test_malformed_properties import apply, mutation

pytestmark = pytest.mark.e2e

N = int(os.environ.get("VANTHU_MALFORMED_N", "2000"))
SENDER = Organization(organ_id="000.12.00.H56", organ_name="Sở Nội vụ tỉnh Thanh Hóa")
SYSTEM_ID, SECRET = "sim.000.12.00.H56", "sim-secret-so-noi-vu"
COMMUNE = "000.24.26.H56"
UNSIGNED_PDF = render_document().pdf




attachment = st.one_of(
    st.tuples(st.sampled_from(["van-ban.pdf", "phu-luc.docx", "anh.jpg", "bang.xlsx"]), st.binary(max_size=300)),
    st.tuples(st.sampled_from(["van-ban.pdf", "du-thao.doc"]), st.just(UNSIGNED_PDF)),  # unsigned, or PDF named .doc
    st.tuples(st.just("chuong-trinh.exe.pdf"), st.just(b"MZ\x90\x00" + b"\x00" * 200)),
    st.tuples(st.text(min_size=1, max_size=20).map(lambda s: s + ".pdf"), st.binary(min_size=0, max_size=50)),
)
envelope = st.fixed_dictionaries({
    "attachments": st.lists(attachment, max_size=3),
    "subject": st.sampled_from(["Về việc tăng cường công tác phòng cháy", "MẬT - Về việc rà soát", "(Tối mật) Kế hoạch",
                                "Về việc đổi mật khẩu hệ thống", ""]),
    "to_us": st.booleans(),
    # Mostly intact envelopes with bad content; some with damaged bytes (most of which the axis refuses).
    "mutations": st.sampled_from([False, False, False, True]).flatmap(
        lambda damaged: st.lists(mutation, min_size=1, max_size=2) if damaged else st.just([])),
})


def _build(number: int, spec: dict) -> tuple[str, bytes]:
    code = Code(code_number=str(number), code_notation="SNV-MALFORMED")
    issued = dt.date.today()
    package = EdocPackage(
        sender=SENDER, recipients=[Organization(organ_id=COMMUNE if spec["to_us"] else "000.25.26.H56", organ_name="UBND xã")],
        document_id=EdocPackage.make_document_id(SENDER.organ_id, issued, code), code=code,
        promulgation_info=PromulgationInfo(place="Thanh Hóa", promulgation_date=issued),
        document_type=DocumentType(type=1, type_name="Công văn"), subject=spec["subject"] or "x",
        signer_info=SignerInfo(position="Giám đốc", full_name="Nguyễn Văn An"), other_info=OtherInfo(page_amount=1),
        business=Business(),
        attachments=[Attachment(content_id=f"cid:{i}", attachment_name=name, content_type="application/octet-stream",
                                content=data) for i, (name, data) in enumerate(spec["attachments"], 1)],
    )
    data = build_edoc(package)
    if not spec["subject"]:  # an empty required field, as a broken sender writes it
        data = data.replace(b"<edXML:Subject>x</edXML:Subject>", b"<edXML:Subject></edXML:Subject>")
    for change in spec["mutations"]:
        data = apply(data, change)
    return package.document_id, data


def _send(axis: str, data: bytes) -> dict:
    params = {"from": SENDER.organ_id, "to": json.dumps([COMMUNE]), "servicetype": "eDoc", "messagetype": "edoc",
              "hash-file": hashlib.sha256(data).hexdigest()}
    headers = signed_headers(params, system_id=SYSTEM_ID, secret=SECRET)
    headers["Content-Type"] = "application/octet-stream"
    return httpx.post(f"{axis}/sendEdoc", headers=headers, content=data, timeout=30).json()


async def _dead_letters(amqp_url: str) -> dict[str, int]:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        counts = {}
        for spec in TOPOLOGY.queues:
            queue = await channel.declare_queue(spec.dead_letter_queue, passive=True)
            counts[spec.dead_letter_queue] = queue.declaration_result.message_count
        return counts


def test_every_malformed_package_is_refused_with_a_reason_and_nothing_is_lost(system):
    stack, urls = system
    amqp_url = stack.env["AMQP_URL"]
    accepted: dict[str, bytes] = {}
    refused_by_axis: list[str] = []
    counter = iter(range(1, 10**9))

    @settings(max_examples=N, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
    @given(envelope)
    def send_one(spec):
        document_id, data = _build(next(counter), spec)
        answer = _send(urls["axis"], data)
        if answer.get("status") == "OK":
            accepted[document_id] = data
        else:  # the axis refused it at once, with a reason for the sender
            assert answer.get("ErrorCode") and answer.get("ErrorDesc"), answer
            refused_by_axis.append(answer["ErrorDesc"])

    send_one()
    assert accepted, "no malformed package got past the axis: the test would prove nothing"

    def answers():
        rows = httpx.get(f"{urls['axis']}/_sim/agencies/{SENDER.organ_id}/statuses", timeout=30).json()
        by_document: dict[str, list[dict]] = {}
        for row in rows:
            by_document.setdefault(row["response_for_document_id"], []).append(row)
        return by_document

    def every_one_refused(by_document) -> bool:
        return all(any(s["status_code"] == "02" for s in by_document.get(d, [])) for d in accepted)

    try:
        by_document = wait_until(answers, every_one_refused, timeout=max(300.0, len(accepted) * 2.0), interval=2.0,  # late under load is not lost
                                 what="02 for each accepted package")
    except AssertionError:
        by_document = answers()
        missing = [d for d in accepted if not any(s["status_code"] == "02" for s in by_document.get(d, []))]
        intake = {d["response_for"]["document_id"]: (d["state"], d.get("reply_to"), [
                      (x["code"], x.get("transport_state"), x.get("error")) for x in d["statuses"]])
                  for d in http.get(f"{urls['intake']}/documents?limit=500", timeout=30).json()}
        pytest.fail(f"{len(missing)} of {len(accepted)} without 02: "
                    + "; ".join(f"{d}: sender saw {[s['status_code'] for s in by_document.get(d, [])]}, intake {intake.get(d)}"
                                for d in missing[:5]))
    for document_id in accepted:
        codes = [s["status_code"] for s in by_document[document_id]]
        refusal = next(s for s in by_document[document_id] if s["status_code"] == "02")
        assert codes[0] == "01" and "03" not in codes, (document_id, codes)
        assert refusal["description"].startswith("Từ chối tiếp nhận"), refusal

    # Nothing half-registered: every record final, none registered, no register number given out.
    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_intake"]
    states = {row["_id"]: n for row in db["documents"].aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}])
              for n in [row["n"]]}
    assert states == {"refused": len(accepted)}, states
    assert db["documents"].count_documents({"register": {"$exists": True}}) == 0
    # Secret documents left nothing behind: their refusals stored no file.
    assert db["documents"].count_documents({"verification.checks": {"$elemMatch": {"name": "not_secret", "outcome": "failed"}},
                                            "files.0": {"$exists": True}}) == 0
    # No message lost or parked: every dead-letter queue is empty; every service still answers.
    assert set(asyncio.run(_dead_letters(amqp_url)).values()) == {0}
    # …nor kept for the operator: each service moves its DLQs into its `dead_letters` (shared/bus/dead_letters.py).
    store = pymongo.MongoClient(stack.env["MONGODB_URL"])
    kept = {name: store[f"{stack.env['DATABASE_PREFIX']}_{name}"]["dead_letters"].count_documents({})
            for name in ("gateway", "intake", "dispatch", "signing", "archive")}
    assert set(kept.values()) == {0}, kept
    for name in ("gateway", "intake", "dispatch", "signing", "archive"):
        assert httpx.get(f"{urls[name]}/healthz", timeout=10).status_code == 200
    print(f"\nmalformed stream: {N} generated, {len(accepted)} past the axis and refused 02 by intake, "
          f"{len(refused_by_axis)} refused by the axis at send")
