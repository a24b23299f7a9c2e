"""Integrity of the archive (issue 5 items 4 and 5), against the real store and the project's
own time-stamping server in its own process: scheduled fixity checks find a changed or lost
file, alert and audit it, and close the alert once repaired (R-4.1, R-9.1, R-11.1); archived
signatures get a B-LTA document timestamp before the newest timestamp's TSA certificate
expires, without touching the old bytes (R-4.1, R-11.1)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time

import httpx
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from bson import Binary
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from devstack.processes import free_port
from services.archive.domain import fixity as fixity_rules
from services.archive.domain import preservation as rules
from services.archive.handlers.fixity import run_fixity
from services.archive.handlers.preservation import run_preservation, status_of
from shared import devpki
from shared.blobs import BlobStore, sha256_hex
from shared.db import Store
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from shared.pdfdocs import render_document
from shared.service import ServiceContext

UTC = dt.timezone.utc


@pytest.fixture
async def ctx(settings):
    store = Store(settings.mongodb_url, settings.database_name("archive"))
    await store.ensure_indexes()
    files = BlobStore(store, "archive", bucket="files")
    await files.ensure_indexes()
    context = ServiceContext("archive", settings, store, blobs=BlobStore(store, "archive"), blob_client=None,  # type: ignore[arg-type]
                             extras={"files": files})
    yield context
    await store.client.drop_database(store.db.name)
    await store.close()


async def keep(ctx: ServiceContext, rid: str, *named: tuple[str, bytes, str]) -> list[dict]:
    """A record as the archive writes it: files through BlobStore, hashes in the record."""
    entries = []
    for name, data, media_type in named:
        ref = await ctx.extras["files"].put(data, media_type=media_type, name=name)
        entries.append({"sha256": ref.sha256, "size": ref.size, "name": name, "media_type": media_type})
    await ctx.store.db["records"].insert_one({"_id": rid, "source": "incoming", "document_key": rid.split(":")[1],
                                              "files": entries, "stored_at": dt.datetime.now(UTC)})
    return entries


async def gridfs_id(ctx: ServiceContext, sha256: str):
    return (await ctx.store.db["files.files"].find_one({"filename": sha256}))["_id"]


# --- pure rules ----------------------------------------------------------------------------------


def test_classify_names_what_is_wrong():
    """R-4.1: missing, changed and unreadable are told apart; a size change is a mismatch too."""
    assert fixity_rules.classify("a", 3, None, None, stored=False)[0] == "missing"
    assert fixity_rules.classify("a", 3, None, 1, stored=True, problem="read failed")[0] == "unreadable"
    assert fixity_rules.classify("a", 3, "b", 3, stored=True)[0] == "mismatch"
    assert fixity_rules.classify("a", 3, "a", 4, stored=True)[0] == "mismatch"
    assert fixity_rules.classify("a", 3, "a", 3, stored=True) == ("ok", "")


def test_when_a_fresh_archive_timestamp_is_needed():
    """R-11.1 (kept valid until destruction): renew before the newest timestamp's TSA
    certificate expires; never-timestamped signatures get one; no renewal that gains nothing."""
    now = dt.datetime(2030, 1, 1, tzinfo=UTC)
    sig_ts = rules.TimestampInfo("signature", "Sig1", now - dt.timedelta(days=100), now + dt.timedelta(days=200))
    assert rules.decide(signatures=0, timestamps=[], now=now, margin_days=365).action == "nothing_to_preserve"
    assert rules.decide(signatures=1, timestamps=[], now=now, margin_days=365).action == "timestamp"
    assert rules.decide(signatures=1, timestamps=[sig_ts], now=now, margin_days=100).action == "none"
    assert rules.decide(signatures=1, timestamps=[sig_ts], now=now, margin_days=365).action == "timestamp"
    doc_ts = rules.TimestampInfo("document", "Ts1", now - dt.timedelta(days=1), now + dt.timedelta(days=200))
    again = rules.decide(signatures=1, timestamps=[sig_ts, doc_ts], now=now, margin_days=365)
    assert again.action == "timestamp_if_tsa_extends"
    assert not rules.tsa_extends(again, now + dt.timedelta(days=200))  # same certificate: nothing gained
    assert rules.tsa_extends(again, now + dt.timedelta(days=2000))
    expired = rules.TimestampInfo("document", "Ts0", now - dt.timedelta(days=900), now - dt.timedelta(days=1))
    assert rules.decide(signatures=1, timestamps=[expired], now=now, margin_days=365).action == "chain_expired"


# --- fixity against the real store ----------------------------------------------------------------


async def test_fixity_finds_tampered_and_missing_files_and_closes_alerts_once_repaired(ctx):
    """R-4.1, R-9.1: every stored file is re-read and re-hashed; a changed file (bytes altered in
    GridFS's chunks) and a lost one are reported with record and file name, alerted and audited;
    putting the right bytes back closes the alerts at the next run. Recalled content (destroyed,
    R-6.2) is not checked."""
    big = bytes(range(256)) * 3000  # 768 000 B: several GridFS chunks, read one at a time
    (a1, a2) = await keep(ctx, "incoming:A", ("cong-van.pdf", b"%PDF-1.7 cong van A", "application/pdf"),
                          ("phu-luc.bin", big, "application/octet-stream"))
    (b1,) = await keep(ctx, "incoming:B", ("quyet-dinh.pdf", b"%PDF-1.7 quyet dinh B", "application/pdf"))
    (c1,) = await keep(ctx, "incoming:C", ("to-trinh.pdf", b"%PDF-1.7 to trinh C", "application/pdf"))
    await ctx.store.db["records"].update_one({"_id": "incoming:C"}, {"$set": {"files.0.destroyed": True}})

    first = await run_fixity(ctx, trigger="test")
    assert first["verdict"] == "passed" and first["counts"]["files_checked"] == 3
    assert first["counts"]["ok"] == 3 and first["counts"]["skipped_destroyed"] == 1
    assert first["counts"]["bytes_read"] == a1["size"] + a2["size"] + b1["size"]

    # Tamper with the second chunk of the big file, directly in the store.
    fid = await gridfs_id(ctx, a2["sha256"])
    chunk = await ctx.store.db["files.chunks"].find_one({"files_id": fid, "n": 1})
    original_chunk = bytes(chunk["data"])
    altered = bytearray(original_chunk)
    altered[10] ^= 0xFF
    await ctx.store.db["files.chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": Binary(bytes(altered))}})
    # Lose another file entirely.
    gone = await gridfs_id(ctx, b1["sha256"])
    await ctx.store.db["files.chunks"].delete_many({"files_id": gone})
    await ctx.store.db["files.files"].delete_one({"_id": gone})

    second = await run_fixity(ctx, trigger="test")
    assert second["verdict"] == "failed"
    assert second["counts"]["mismatch"] == 1 and second["counts"]["missing"] == 1 and second["counts"]["ok"] == 1
    failures = {(f["record_id"], f["name"]): f for f in second["failures"]}
    mismatch = failures[("incoming:A", "phu-luc.bin")]
    assert mismatch["outcome"] == "mismatch" and mismatch["sha256"] == a2["sha256"]
    assert mismatch["actual_sha256"] == sha256_hex(big[:261120] + bytes(altered) + big[2 * 261120:])
    assert failures[("incoming:B", "quyet-dinh.pdf")]["outcome"] == "missing"
    stored_run = await ctx.store.db["fixity_runs"].find_one({"_id": second["_id"]})
    assert stored_run["state"] == "finished" and len(stored_run["failures"]) == 2 and stored_run["finished_at"]

    alerts = await ctx.store.db["alerts"].find({"kind": "fixity", "open": True}).to_list()
    assert {(a["subject"]["record_id"], a["details"]["outcome"]) for a in alerts} == {("incoming:A", "mismatch"), ("incoming:B", "missing")}
    assert all(a["severity"] == "critical" for a in alerts)
    assert any("đã bị thay đổi" in a["message"] for a in alerts)
    assert any("không còn trong kho" in a["message"] for a in alerts)
    audit = await ctx.store.db["audit_log"].find({"action": "fixity.failed"}).to_list()
    assert {e["subject_id"] for e in audit} == {"incoming:A", "incoming:B"}
    assert all(e["actor"] == "system:archive" for e in audit)

    # Still broken at the next run: the same alerts, seen again, not new ones.
    await run_fixity(ctx, trigger="test")
    again = await ctx.store.db["alerts"].find({"kind": "fixity", "open": True}).to_list()
    assert sorted(a["_id"] for a in again) == sorted(a["_id"] for a in alerts)
    assert all(a["occurrences"] == 2 and a["last_seen"] > a["first_seen"] for a in again)

    # Repair: the right bytes back in the chunk; the lost file stored again.
    await ctx.store.db["files.chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": Binary(original_chunk)}})
    await ctx.extras["files"].put(b"%PDF-1.7 quyet dinh B", media_type="application/pdf", name="quyet-dinh.pdf")
    repaired = await run_fixity(ctx, trigger="test")
    assert repaired["verdict"] == "passed" and repaired["alerts_closed"] == 2
    assert await ctx.store.db["alerts"].count_documents({"kind": "fixity", "open": True}) == 0
    closed = await ctx.store.db["alerts"].find({"kind": "fixity"}).to_list()
    assert all(a["closed_by_run"] == repaired["_id"] and a["resolution"] == "file good again" for a in closed)
    assert await ctx.store.db["audit_log"].count_documents({"action": "fixity.restored"}) == 2


# --- preservation (B-LTA) against the local TSA -----------------------------------------------------


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    port = free_port()
    data = tmp_path_factory.mktemp("tsa")
    proc = subprocess.Popen([sys.executable, "-m", "localtsa", "--port", str(port), "--data-dir", str(data)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url, data
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def signer_pki(tmp_path_factory):
    """A leader's key under a CA of its own (software keys: the token is not the subject here)."""
    ca = devpki.make_ca("CA thử nghiệm lưu trữ", "vanthu")
    key = devpki.issue_key(ca, common_name="Lê Văn Thành - Chủ tịch UBND xã Hoằng Đức", organization="UBND xã Hoằng Đức")
    directory = tmp_path_factory.mktemp("signer-pki")
    devpki.save(ca, directory, "ca")
    to_asn1 = asn1_x509.Certificate.load
    signer = signers.SimpleSigner(
        signing_cert=to_asn1(key.certificate.public_bytes(Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([to_asn1(ca.certificate.public_bytes(Encoding.DER))]))
    return signer, directory / "ca.crt.pem"


async def signed_pdf(signer, tsa_url: str) -> bytes:
    """A PAdES B-T document: signature with an RFC 3161 signature timestamp from the local TSA."""
    writer = IncrementalPdfFileWriter(io.BytesIO(render_document().pdf))
    meta = signers.PdfSignatureMetadata(field_name="ChuKyLanhDao", subfilter=SigSeedSubFilter.PADES)
    out = await signers.PdfSigner(meta, signer=signer, timestamper=HTTPTimeStamper(tsa_url + "/")).async_sign_pdf(writer)
    return out.getvalue()


@pytest.fixture
def archive_settings(ctx, tsa, signer_pki):
    url, data = tsa
    # The local TSA's certificate is valid 1825 days: a 2000-day margin makes it "expire soon".
    ctx.settings = ctx.settings.model_copy(update={
        "tsa_url": url + "/", "archive_retimestamp_margin_days": 2000,
        "trust_roots": [signer_pki[1], data / "ca.crt.pem"]})
    return ctx.settings


def tsa_switch(url: str, available: bool) -> None:
    httpx.post(f"{url}/_control", json={"available": available}).raise_for_status()


async def test_a_signature_whose_timestamp_expires_soon_gets_a_b_lta_document_timestamp(ctx, archive_settings, tsa, signer_pki):
    """R-4.1, R-11.1 (issue 5 item 4): the archive validates the signature and its timestamp,
    embeds their validation material and adds a document timestamp (PAdES B-LTA) as an
    incremental update; the original signature stays intact; the new file is kept beside the old
    one, whose bytes stay retrievable by their hash; a second run changes nothing."""
    url, _ = tsa
    original = await signed_pdf(signer_pki[0], url)
    roots = load_trust_roots(archive_settings.trust_roots)
    (before,) = await validate_pdf_signatures(original, roots, crl_cache=CrlCache(0), final_attempt=True)
    assert before.level == "PAdES-B-T"
    (entry,) = await keep(ctx, "outgoing:QD-15", ("quyet-dinh-15.pdf", original, "application/pdf"))

    report = await run_preservation(ctx, trigger="test")
    assert report["counts"]["timestamped"] == 1 and report["tsa"]["reachable"] is True, report
    (item,) = report["items"]
    assert item["outcome"] == "timestamped" and item["level"] == "PAdES-B-LTA"

    record = await ctx.store.db["records"].find_one({"_id": "outgoing:QD-15"})
    old, new = record["files"]
    assert old["sha256"] == entry["sha256"] and old["superseded_by"] == new["sha256"]
    assert new["derived_from"] == entry["sha256"] and new["derivation"]["reason"] == "B-LTA document timestamp"
    assert new["derivation"]["level"] == "PAdES-B-LTA"
    # The old bytes are untouched and still there by their hash.
    assert await ctx.extras["files"].get(entry["sha256"]) == original
    stamped = await ctx.extras["files"].get(new["sha256"])
    assert stamped.startswith(original)  # an incremental update: the signed bytes are a prefix

    # Independent check with pyHanko: the signature intact, the document timestamp valid.
    reader = PdfFileReader(io.BytesIO(stamped))
    assert "/DSS" in reader.root
    (sig,) = reader.embedded_regular_signatures
    (doc_ts,) = reader.embedded_timestamp_signatures
    vc = ValidationContext(trust_roots=list(roots))
    status = await async_validate_pdf_signature(sig, vc, ts_validation_context=ValidationContext(trust_roots=list(roots)))
    assert status.bottom_line and status.intact and status.valid
    ts_status = await async_validate_pdf_timestamp(doc_ts, ValidationContext(trust_roots=list(roots)))
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    (after,) = await validate_pdf_signatures(stamped, roots, crl_cache=CrlCache(0), final_attempt=True)
    assert after.level == "PAdES-B-LTA" and after.intact and after.valid and after.trusted and not after.modified_after

    audit = await ctx.store.db["audit_log"].find_one({"action": "record.file.retimestamped"})
    assert audit["subject_id"] == "outgoing:QD-15" and audit["details"]["to_sha256"] == new["sha256"]

    # Idempotent: the TSA's certificate is the same one, so a second timestamp would gain nothing.
    second = await run_preservation(ctx, trigger="test")
    assert second["counts"]["timestamped"] == 0 and second["counts"]["deferred_tsa_certificate"] == 1
    assert (await ctx.store.db["records"].find_one({"_id": "outgoing:QD-15"}))["files"] == record["files"]
    warning = await ctx.store.db["alerts"].find_one({"kind": "preservation", "key": "preservation:tsa-certificate", "open": True})
    assert warning is not None and warning["severity"] == "warning"

    # Fixity checks both files, old and new.
    fixity_run = await run_fixity(ctx, trigger="test")
    assert fixity_run["verdict"] == "passed" and fixity_run["counts"]["files_checked"] == 2

    status_now = await status_of(ctx, "outgoing:QD-15")
    current = [f for f in status_now["files"] if f.get("current")]
    assert len(current) == 1 and current[0]["sha256"] == new["sha256"]
    assert current[0]["decision"]["action"] == "timestamp_if_tsa_extends"


async def test_with_the_tsa_away_nothing_changes_and_the_next_run_catches_up(ctx, archive_settings, tsa, signer_pki):
    """R-4.1, R-11.1: the TSA unreachable → no record changed, no new file referenced, the run
    says so and an alert is open; the next run with the TSA back adds the timestamp and closes it."""
    url, _ = tsa
    original = await signed_pdf(signer_pki[0], url)
    (entry,) = await keep(ctx, "incoming:CV-7", ("cong-van-7.pdf", original, "application/pdf"))
    tsa_switch(url, False)
    try:
        report = await run_preservation(ctx, trigger="test")
    finally:
        tsa_switch(url, True)
    assert report["tsa_unreachable"] is True and report["tsa"]["reachable"] is False
    assert report["counts"]["pending_tsa_unreachable"] == 1 and report["counts"]["timestamped"] == 0
    record = await ctx.store.db["records"].find_one({"_id": "incoming:CV-7"})
    assert record["files"] == [entry]
    assert await ctx.store.db["files.files"].count_documents({}) == 1
    assert await ctx.store.db["audit_log"].count_documents({"action": "record.file.retimestamped"}) == 0
    alert = await ctx.store.db["alerts"].find_one({"key": "preservation:tsa", "open": True})
    assert alert is not None and "máy chủ cấp dấu thời gian" in alert["message"]
    stored = await ctx.store.db["preservation_runs"].find_one({"_id": report["_id"]})
    assert stored["state"] == "finished" and stored["tsa_unreachable"] is True

    caught_up = await run_preservation(ctx, trigger="test")
    assert caught_up["counts"]["timestamped"] == 1
    assert await ctx.store.db["alerts"].count_documents({"key": "preservation:tsa", "open": True}) == 0


async def test_the_integrity_endpoints(ctx):
    """R-4.1: the operator starts a fixity run, reads runs and open alerts over HTTP (R-13), with
    the token the portal mints for them (R-15.5); an officer runs no integrity checks."""
    from fastapi import Depends, FastAPI

    from services.archive.domain.access import ACCESS
    from services.archive.entrypoints.integrity_api import router
    from shared.auth import authorizer
    from staff_http import StaffHttp

    app = FastAPI()
    app.include_router(router, dependencies=[Depends(authorizer(ACCESS, ctx.settings.auth_keys_dir))])
    app.state.ctx = ctx
    staff = StaffHttp(ctx.settings.auth_keys_dir)
    (entry,) = await keep(ctx, "incoming:D", ("bao-cao.pdf", b"%PDF-1.7 bao cao D", "application/pdf"))
    await ctx.store.db["files.chunks"].update_many({}, {"$set": {"data": Binary(b"%PDF-1.7 bao cao X")}})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archive") as anonymous:
        assert (await anonymous.post("/fixity/run")).status_code == 401
        officer = staff.headers("cc.vanphong")
        assert (await anonymous.post("/fixity/run", headers=officer)).status_code == 403
        assert (await anonymous.get("/alerts", headers=officer)).status_code == 403
        assert await ctx.store.db["fixity_runs"].count_documents({}) == 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archive",
                                 headers=staff.headers("vanhanh", "operator")) as client:
        run = (await client.post("/fixity/run")).json()
        assert run["verdict"] == "failed" and run["failures"][0]["record_id"] == "incoming:D"
        runs = (await client.get("/fixity/runs", params={"limit": 5})).json()
        assert [r["id"] for r in runs] == [run["id"]] and "failures" not in runs[0]
        assert (await client.get(f"/fixity/runs/{run['id']}")).json()["counts"]["mismatch"] == 1
        assert (await client.get("/fixity/runs/nope")).status_code == 404
        (alert,) = (await client.get("/alerts", params={"open": "true"})).json()
        assert alert["subject"] == {"record_id": "incoming:D", "sha256": entry["sha256"], "name": "bao-cao.pdf"}
        assert (await client.get("/preservation/records/incoming:D")).json()["files"][0]["sha256"] == entry["sha256"]
