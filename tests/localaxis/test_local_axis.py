"""The local axis as the gateway sees it: the VXP operations over HTTP with HMAC-signed
headers (standards.md §2.2), through the gateway's real client (VxpAxisClient)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
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
from shared.edxml import EdxmlError, Organization, ResponseFor, StatusCode, StatusPackage, build_status, parse_edoc, parse_status
from shared.vxp import VxpAuthError, signed_headers, verify_headers

REPO = Path(__file__).resolve().parents[2]
COMMUNE = "000.24.26.H56"
OFFICE = "000.01.00.H56"
SECRET = "dev-secret-hoang-duc"
SYSTEM = "vanthu.000.24.26.H56"


def start_axis(data: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "localaxis", "--port", str(port), "--data-dir", str(data),
         "--agencies", str(REPO / "deploy/local-axis/agencies.json")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the local axis exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the local axis did not become ready")


def stop_axis(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def axis(tmp_path_factory):
    port = free_port()
    data = tmp_path_factory.mktemp("axis")
    process = start_axis(data, port)
    yield f"http://127.0.0.1:{port}", data
    stop_axis(process)


async def validate_signatures(pdf: bytes, trust_roots: Path) -> list[tuple[str, str, bool, bool, bool]]:
    """(field, signer CN, intact, valid, trusted) per signature, against the roots the axis publishes."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(trust_roots.read_bytes(), multiple=True)]
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    result = []
    for emb in sorted(reader.embedded_regular_signatures, key=lambda e: e.signed_revision):
        status = await async_validate_pdf_signature(emb, context)
        result.append((emb.field_name, emb.signer_cert.subject.native["common_name"],
                       status.intact, status.valid, status.trusted))
    return result


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
    # Vietnamese in a parameter still travels in latin-1 headers and comes back unchanged
    vietnamese = signed_headers({"title": "Công văn số 1"}, system_id=SYSTEM, secret=SECRET)
    assert all(value.isascii() for value in vietnamese.values())
    assert verify_headers(vietnamese, {SYSTEM: SECRET})[1]["title"] == "Công văn số 1"


def test_tampered_or_missing_signature_headers_are_refused_with_15(axis):
    url, _ = axis
    headers = signed_headers({"servicetype": "eDoc", "messagetype": "edoc"}, system_id=SYSTEM, secret=SECRET)
    assert httpx.post(f"{url}/getReceivedEdocList", headers=headers).json()["ErrorCode"] == "0"
    forged = {**headers, "XroadVnpt-hash-header": "0" * 64}
    response = httpx.post(f"{url}/getReceivedEdocList", headers=forged)
    assert response.status_code == 401
    assert response.json()["status"] == "FAIL" and response.json()["ErrorCode"] == "15"
    response = httpx.post(f"{url}/getReceivedEdocList", headers={"XroadVnpt-systemid": SYSTEM})
    assert response.status_code == 401 and response.json()["ErrorCode"] == "15"


def test_send_with_a_wrong_hash_file_is_refused(axis):
    url, _ = axis
    body = b"<edXML/>"
    params = {"from": COMMUNE, "to": json.dumps([OFFICE]), "servicetype": "eDoc", "messagetype": "status",
              "hash-file": hashlib.sha256(b"something else").hexdigest()}
    headers = {**signed_headers(params, system_id=SYSTEM, secret=SECRET), "Content-Type": "application/octet-stream"}
    assert httpx.post(f"{url}/sendEdoc", headers=headers, content=body).json()["ErrorCode"] == "10"


async def test_wrong_secret_is_rejected(axis):
    bad = VxpAxisClient(axis[0], SYSTEM, "wrong", timeout=10)
    with pytest.raises(AxisRejected):
        await bad.list_received("edoc")
    await bad.close()


async def test_agency_document_is_listed_fetched_and_gone_after_done(axis, client):
    url, data_dir = axis
    sent = httpx.post(f"{url}/_sim/agencies/{OFFICE}/send", json={"subject": "Thử trục", "count": 2}, timeout=60).json()
    ids = {d["axis_doc_id"] for d in sent["documents"]}
    items = [i for i in await client.list_received("edoc") if i.doc_id in ids]
    assert {i.from_code for i in items} == {OFFICE} and len(items) == 2
    package = parse_edoc(await client.fetch(items[0].doc_id))
    assert package.sender.organ_id == OFFICE and package.recipients[0].organ_id == COMMUNE
    assert package.attachments[0].content.startswith(b"%PDF")
    # leader's signature first, then the agency's, both good against the published roots
    assert await validate_signatures(package.attachments[0].content, data_dir / "pki" / "trust-roots.pem") == [
        ("ChuKyLanhDao", "Nguyễn Văn An - Chánh Văn phòng", True, True, True),
        ("ChuKyCoQuan", "Văn phòng UBND tỉnh Thanh Hóa", True, True, True),
    ]
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


async def _status_codes_for(client, document_id: str) -> list[str]:
    codes = []
    for item in await client.list_received("status"):
        status = parse_status(await client.fetch(item.doc_id))
        if status.response_for.document_id == document_id:
            codes.append(status.status_code.value)
    return codes


async def test_an_agency_killed_between_01_and_03_still_sends_03_after_the_restart(axis, tmp_path):
    # The fault-injection suite kills the axis at random: a 03 the agency owed was once lost.
    data = tmp_path / "axis"
    shutil.copytree(axis[1] / "pki", data / "pki")
    slow = {"LOCALAXIS_STATUS_PAUSE_SECONDS": "30"}
    port = free_port()
    process = start_axis(data, port, slow)
    client = VxpAxisClient(f"http://127.0.0.1:{port}", SYSTEM, SECRET, timeout=30)
    try:
        sent = httpx.post(f"http://127.0.0.1:{port}/_sim/agencies/{OFFICE}/send", json={"subject": "Trước khi dừng"},
                          timeout=60).json()
        axis_doc_id = sent["documents"][0]["axis_doc_id"]
        package = parse_edoc(await client.fetch(axis_doc_id))
        await client.acknowledge(axis_doc_id, "done")
        from shared.edxml import build_edoc

        forwarded = package.model_copy(update={"sender": Organization(organ_id=COMMUNE, organ_name="UBND xã Hoằng Đức"),
                                               "recipients": [Organization(organ_id="000.00.00.H56")]})
        await client.send(COMMUNE, ["000.00.00.H56"], "edoc", build_edoc(forwarded))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and await _status_codes_for(client, package.document_id) != ["01"]:
            time.sleep(0.2)
        assert await _status_codes_for(client, package.document_id) == ["01"]
    finally:
        await client.close()
        process.kill()  # SIGKILL while the agency waits to send 03
        process.wait(10)
    port = free_port()
    process = start_axis(data, port)  # the usual half-second pause
    client = VxpAxisClient(f"http://127.0.0.1:{port}", SYSTEM, SECRET, timeout=30)
    try:
        deadline = time.monotonic() + 30
        codes: list[str] = []
        while time.monotonic() < deadline and len(codes) < 2:
            codes = await _status_codes_for(client, package.document_id)
            time.sleep(0.2)
        assert codes == ["01", "03"]
        inbox = httpx.get(f"http://127.0.0.1:{port}/_sim/agencies/000.00.00.H56/inbox").json()
        assert [r["document_id"] for r in inbox].count(package.document_id) == 1
    finally:
        await client.close()
        stop_axis(process)


@pytest.mark.parametrize("fault", ["broken_xml", "missing_field", "bad_attachment_base64", "exe_as_pdf", "secret",
                                   "unsigned", "untrusted_signer", "tamper_after_signing"])
async def test_simulated_faults_reach_the_commune_with_their_defect(axis, client, fault):
    url, data_dir = axis
    sent = httpx.post(f"{url}/_sim/agencies/{OFFICE}/send", json={"subject": "Lỗi", "fault": fault}, timeout=60).json()
    (document,) = sent["documents"]
    data = await client.fetch(document["axis_doc_id"])
    await client.acknowledge(document["axis_doc_id"], "fail")
    if fault in ("broken_xml", "missing_field", "bad_attachment_base64"):
        with pytest.raises(EdxmlError) as refused:
            parse_edoc(data)
        expected = {"missing_field": "MessageHeader/Code/CodeNumber", "bad_attachment_base64": "ContentTransferEncoded"}
        if fault in expected:
            assert any(expected[fault] in e.path for e in refused.value.errors)
        return
    package = parse_edoc(data)
    assert package.document_id == document["document_id"]
    pdf = package.attachments[0]
    roots = data_dir / "pki" / "trust-roots.pem"
    if fault == "exe_as_pdf":
        assert pdf.attachment_name.endswith(".pdf") and pdf.content_type == "application/pdf"
        assert pdf.content.startswith(b"MZ")
    elif fault == "secret":
        assert package.subject.startswith("[MẬT] ") and package.other_info.sphere_of_promulgation == "Mật"
    elif fault == "unsigned":
        assert await validate_signatures(pdf.content, roots) == []
    elif fault == "untrusted_signer":
        facts = await validate_signatures(pdf.content, roots)
        assert len(facts) == 2 and all(intact and not trusted for _, _, intact, _, trusted in facts)
    elif fault == "tamper_after_signing":
        facts = await validate_signatures(pdf.content, roots)
        assert len(facts) == 2 and not any(intact for _, _, intact, _, _ in facts)


async def test_state_and_trust_roots_survive_a_restart_on_another_port(axis, tmp_path):
    data = tmp_path / "axis"
    # CA keys are slow to make: start from the module axis's PKI (made for another address)
    shutil.copytree(axis[1] / "pki", data / "pki")
    port = free_port()
    process = start_axis(data, port)
    try:
        sent = httpx.post(f"http://127.0.0.1:{port}/_sim/agencies/{OFFICE}/send", json={"subject": "Trước khi khởi động lại"},
                          timeout=60).json()
    finally:
        stop_axis(process)
    roots_before = (data / "pki" / "trust-roots.pem").read_bytes()
    port = free_port()
    process = start_axis(data, port)
    client = VxpAxisClient(f"http://127.0.0.1:{port}", SYSTEM, SECRET, timeout=30)
    try:
        assert sent["documents"][0]["axis_doc_id"] in {i.doc_id for i in await client.list_received("edoc")}
        assert (data / "pki" / "trust-roots.pem").read_bytes() == roots_before  # peers keep trusting the same CAs
        again = httpx.post(f"http://127.0.0.1:{port}/_sim/agencies/{OFFICE}/send", json={}, timeout=60).json()
        package = parse_edoc(await client.fetch(again["documents"][0]["axis_doc_id"]))
        assert package.code.code_number == "02"  # numbering continues across the restart
        from cryptography import x509 as crypto_x509
        from pyhanko.pdf_utils.reader import PdfFileReader

        emb = PdfFileReader(io.BytesIO(package.attachments[0].content)).embedded_regular_signatures[0]
        cert = crypto_x509.load_der_x509_certificate(emb.signer_cert.dump())
        points = cert.extensions.get_extension_for_class(crypto_x509.CRLDistributionPoints).value
        assert points[0].full_name[0].value == f"http://127.0.0.1:{port}/pki/{OFFICE}/crl"
        assert httpx.get(f"http://127.0.0.1:{port}/pki/{OFFICE}/crl").status_code == 200
    finally:
        await client.close()
        stop_axis(process)
