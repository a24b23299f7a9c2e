"""Keeping archived signatures valid (PAdES B-LTA; R-4.1, R-11.1).

For each kept PDF whose newest timestamp's TSA certificate expires within
ARCHIVE_RETIMESTAMP_MARGIN_DAYS (or that is signed and never timestamped):
  1. the whole chain is validated with pyHanko against the trust roots (TRUST_ROOTS, which
     carry the TSA's CA): every signature at the time of its own timestamp, every timestamp
     at the time of the next document timestamp (the newest one at now);
  2. their validation material (certificates, CRLs at hand) goes into the DSS, and a fresh
     document timestamp from TSA_URL is appended, both as incremental updates;
  3. the new file is read back: the original signatures must still be intact and the new
     timestamp valid, and shared/pdf_signatures must report the level;
  4. the new bytes are stored beside the old ones (GridFS, by their own SHA-256) and the record
     gets a new file entry with `derived_from` = the old hash; the old entry stays, marked
     `superseded_by`, so the old bytes remain retrievable and fixity keeps checking both.
     A new entry (not `versions` inside the old one) so `GET /records/{id}/files/{sha256}` and
     the fixity run serve and check it like any other file.

The TSA unreachable: nothing is written for that document (new bytes are only referenced
after step 3 succeeded), the run records it, an alert is open, the next run tries again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from prometheus_client import Counter, Gauge
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
    collect_validation_info,
)
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pymongo import DESCENDING

from services.archive.adapters import repository as repo
from services.archive.domain import preservation as rules
from services.archive.domain.preservation import Decision, TimestampInfo
from services.archive.handlers.fixity import ALERTS, ACTOR, _scheduled, close_alert, raise_alert
from shared import pdf_signatures
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobStore
from shared.clock import utcnow
from shared.logging import get_logger
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from shared.service import ServiceContext

log = get_logger(__name__)
RUNS = "preservation_runs"
TSA_ALERT_KEY = "preservation:tsa"
TSA_CERT_ALERT_KEY = "preservation:tsa-certificate"

LAST_RUN = Gauge("vanthu_preservation_last_run_timestamp", "Unix time the last preservation run finished")
TIMESTAMPS_ADDED = Counter("vanthu_preservation_timestamps_added_total", "Archive document timestamps added (B-LTA)")
PENDING = Gauge("vanthu_preservation_pending", "Archived PDFs needing a fresh timestamp not given one in the last run")
PROBLEMS = Gauge("vanthu_preservation_problems", "Archived PDFs whose signature chain failed validation in the last run")

# pyHanko is not safe in several threads at once (see shared/pdf_signatures): share its lock.
_PYHANKO = getattr(pdf_signatures, "_ONE_AT_A_TIME", threading.Lock())


class PreservationRunning(Exception):
    pass


class TsaUnavailable(Exception):
    pass


class ChainInvalid(Exception):
    pass


def _lock(ctx: ServiceContext) -> asyncio.Lock:
    return ctx.extras.setdefault("preservation_lock", asyncio.Lock())


def _files(ctx: ServiceContext) -> BlobStore:
    return ctx.extras.get("files") or BlobStore(ctx.store, "archive", bucket="files")


def _not_after(cert: asn1_x509.Certificate) -> dt.datetime:
    return cert["tbs_certificate"]["validity"]["not_after"].native


def _cn(cert: asn1_x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except Exception:  # noqa: BLE001
        return None


def _tst_info(signed_data, kind: str, field_name: str) -> TimestampInfo:
    tst = signed_data["encap_content_info"]["content"].parsed
    cert = extract_certificate_info(signed_data).signer_cert
    return TimestampInfo(kind=kind, field=field_name, at=tst["gen_time"].native, tsa_not_after=_not_after(cert),
                         tsa_cn=_cn(cert))


@dataclass
class Inspection:
    signatures: list[str] = field(default_factory=list)  # field names of the signers' signatures
    timestamps: list[TimestampInfo] = field(default_factory=list)
    problem: str = ""


def inspect_pdf(pdf: bytes) -> Inspection:
    """Signatures and timestamps a PDF carries (no validation: cheap, for the decision)."""
    found = Inspection()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        for emb in reader.embedded_signatures:
            if emb.sig_object_type == "/DocTimeStamp":
                found.timestamps.append(_tst_info(emb.signed_data, "document", emb.field_name))
                continue
            found.signatures.append(emb.field_name)
            for tst in extract_tst_data_iter(emb.signer_info, signed=False):
                found.timestamps.append(_tst_info(tst, "signature", emb.field_name))
    except Exception as exc:  # noqa: BLE001 - a PDF we cannot read is reported, not a crash
        found.problem = f"{type(exc).__name__}: {exc}"
    return found


# --- the blocking pyHanko part (a worker thread, one at a time) -------------------------------


def _crls_for(reader: PdfFileReader, crl_cache: CrlCache) -> list:
    certs = []
    for emb in reader.embedded_signatures:
        try:
            certs.extend([emb.signer_cert, *emb.other_embedded_certs])
            if emb.sig_object_type != "/DocTimeStamp":
                for tst in extract_tst_data_iter(emb.signer_info, signed=False):
                    info = extract_certificate_info(tst)
                    certs.extend([info.signer_cert, *info.other_certs])
        except Exception:  # noqa: BLE001 - validation below reports what is broken
            continue
    urls = pdf_signatures._crl_urls(certs)
    return [c for c in (crl_cache.get(u) for u in urls) if c is not None]


def _context(roots, crls, moment: dt.datetime | None) -> ValidationContext:
    # soft-fail: revocation data that cannot be had is recorded as missing, never invented
    return ValidationContext(trust_roots=list(roots), crls=list(crls), allow_fetching=False,
                             revocation_mode="soft-fail", moment=moment)


def _next_doc_ts_after(doc_times: list[dt.datetime], at: dt.datetime) -> dt.datetime | None:
    later = [t for t in doc_times if t > at]
    return min(later) if later else None


async def _validate_chain(reader: PdfFileReader, roots, crls) -> tuple[list[dict], list[tuple]]:
    """Validate every signature and timestamp; return the report and, per item, the validation
    context to collect its validation material with."""
    report: list[dict] = []
    problems: list[str] = []
    contexts: list[tuple] = []
    doc_stamps = [e for e in reader.embedded_signatures if e.sig_object_type == "/DocTimeStamp"]
    doc_times = [_tst_info(e.signed_data, "document", e.field_name).at for e in doc_stamps]
    for emb in reader.embedded_signatures:
        if emb.sig_object_type == "/DocTimeStamp":
            info = _tst_info(emb.signed_data, "document", emb.field_name)
            # each document timestamp is vouched for by the next one; the newest must be valid now
            vc = _context(roots, crls, _next_doc_ts_after(doc_times, info.at))
            status = await async_validate_pdf_timestamp(emb, vc)
            ok = bool(status.intact and status.valid and status.trusted)
            report.append({"field": emb.field_name, "kind": "document_timestamp", "at": info.at, "intact": status.intact,
                           "valid": status.valid, "trusted": status.trusted})
            if not ok:
                problems.append(f"document timestamp {emb.field_name} does not validate")
            contexts.append((emb, vc))
            continue
        sig_ts = [_tst_info(t, "signature", emb.field_name) for t in extract_tst_data_iter(emb.signer_info, signed=False)]
        # the signature is proven to exist at its timestamp: its certificate is judged at that time
        signer_moment = min((t.at for t in sig_ts), default=None)
        ts_moment = _next_doc_ts_after(doc_times, signer_moment) if signer_moment else None
        vc = _context(roots, crls, signer_moment)
        status = await async_validate_pdf_signature(emb, vc, ts_validation_context=_context(roots, crls, ts_moment))
        coverage_ok = status.coverage is not None and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
        ts_ok = status.timestamp_validity is None or bool(
            status.timestamp_validity.intact and status.timestamp_validity.valid and status.timestamp_validity.trusted)
        ok = bool(status.intact and status.valid and status.trusted and coverage_ok and ts_ok)
        report.append({"field": emb.field_name, "kind": "signature", "signer": _cn(emb.signer_cert),
                       "intact": status.intact, "valid": status.valid, "trusted": status.trusted,
                       "timestamp_ok": ts_ok, "trust_problem": str(status.trust_problem_indic or "")})
        if not ok:
            problems.append(f"signature {emb.field_name} does not validate")
        contexts.append((emb, vc))
    if problems:
        raise ChainInvalid("; ".join(problems))
    return report, contexts


async def _stamp(pdf: bytes, roots, crl_cache: CrlCache, tsa_url: str, timeout: float) -> tuple[bytes, dict]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    crls = _crls_for(reader, crl_cache)
    chain, contexts = await _validate_chain(reader, roots, crls)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    for emb, vc in contexts:
        paths = await collect_validation_info(emb, vc)
        DocumentSecurityStore.supply_dss_in_writer(writer, emb.pkcs7_content.hex().encode("ascii"), paths=paths,
                                                   validation_context=vc)
    now_context = _context(roots, crls, None)
    stamper = PdfTimeStamper(HTTPTimeStamper(tsa_url, timeout=timeout), field_name=f"ArchiveTimestamp-{uuid.uuid4().hex[:8]}")
    try:
        out = await stamper.async_timestamp_pdf(writer, "sha256", validation_context=now_context, output=io.BytesIO())
    except Exception as exc:
        if _is_tsa_failure(exc):
            raise TsaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise
    new_pdf = out.getvalue()
    # Read back: the original signatures must be untouched by what was appended.
    after = PdfFileReader(io.BytesIO(new_pdf), strict=False)
    before_fields = {emb.field_name for emb in reader.embedded_signatures}
    new_stamp = None
    for emb in after.embedded_signatures:
        if emb.field_name not in before_fields:
            new_stamp = emb
            continue
        if emb.sig_object_type == "/DocTimeStamp":
            continue  # earlier timestamps were validated above; their bytes are covered by the new one
        status = await async_validate_pdf_signature(emb, _context(roots, crls, None))
        level = status.modification_level
        if not (status.intact and status.valid and level is not None and level <= ModificationLevel.FORM_FILLING):
            raise ChainInvalid(f"signature {emb.field_name} not intact after the archive timestamp")
    if new_stamp is None:
        raise ChainInvalid("the new document timestamp is not in the output")
    ts_status = await async_validate_pdf_timestamp(new_stamp, now_context)
    if not (ts_status.intact and ts_status.valid and ts_status.trusted):
        raise ChainInvalid("the new document timestamp does not validate")
    info = _tst_info(new_stamp.signed_data, "document", new_stamp.field_name)
    return new_pdf, {"chain": chain, "timestamp": info.to_dict()}


def _is_tsa_failure(exc: Exception) -> bool:
    from pyhanko.sign.timestamps import TimestampRequestError

    import requests

    return isinstance(exc, (TimestampRequestError, requests.RequestException, OSError))


def _blocking(coro_factory):
    with _PYHANKO:
        return asyncio.run(coro_factory())


def _probe_tsa(tsa_url: str, timeout: float) -> dt.datetime:
    """Ask the TSA for one timestamp (over a random digest) to learn its current certificate."""
    async def probe():
        token = await HTTPTimeStamper(tsa_url, timeout=timeout).async_timestamp(
            hashlib.sha256(os.urandom(32)).digest(), "sha256")
        return _not_after(extract_certificate_info(token["content"]).signer_cert)

    try:
        return asyncio.run(probe())
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the TSA gave no timestamp
        raise TsaUnavailable(f"{type(exc).__name__}: {exc}") from exc


# --- the run -------------------------------------------------------------------------------------


async def ensure_indexes(ctx: ServiceContext) -> None:
    await ctx.store.db[RUNS].create_index([("started_at", DESCENDING)])


async def run_preservation(ctx: ServiceContext, *, trigger: str = "schedule", now: dt.datetime | None = None) -> dict:
    lock = _lock(ctx)
    if lock.locked():
        raise PreservationRunning("a preservation run is already under way")
    async with lock:
        return await _run(ctx, trigger, now or utcnow())


async def _run(ctx: ServiceContext, trigger: str, now: dt.datetime) -> dict:
    settings = ctx.settings
    db = ctx.store.db
    files = _files(ctx)
    run_id = uuid.uuid4().hex
    clock = time.monotonic()
    started = utcnow()
    await db[RUNS].insert_one({"_id": run_id, "state": "running", "trigger": trigger, "started_at": started})
    roots = load_trust_roots(settings.trust_roots)
    crl_cache = ctx.extras.setdefault("crl_cache", CrlCache(settings.crl_cache_seconds, settings.http_timeout_seconds))
    counts = {"pdfs": 0, "nothing_to_preserve": 0, "not_due": 0, "timestamped": 0, "deferred_tsa_certificate": 0,
              "pending_tsa_unreachable": 0, "chain_invalid": 0, "chain_expired": 0, "unreadable": 0}
    items: list[dict] = []
    tsa: dict = {"url": settings.tsa_url, "reachable": None, "not_after": None, "error": None}
    tsa_not_after: dt.datetime | None = None
    tsa_down = False
    good_keys: set[str] = set()  # files found fine this run: their preservation alerts close

    async def probe() -> dt.datetime | None:
        nonlocal tsa_not_after, tsa_down
        if tsa_down:
            return None
        if tsa_not_after is None:
            if not settings.tsa_url:
                tsa.update(reachable=False, error="TSA_URL is not set")
                tsa_down = True
                return None
            try:
                tsa_not_after = await asyncio.to_thread(_probe_tsa, settings.tsa_url, settings.tsa_timeout_seconds)
                tsa.update(reachable=True, not_after=tsa_not_after)
            except TsaUnavailable as exc:
                tsa.update(reachable=False, error=str(exc))
                tsa_down = True
                return None
        return tsa_not_after

    try:
        async for record in db[repo.RECORDS].find({"withdrawn": {"$exists": False}}, projection={"files": 1}, sort=[("_id", 1)]):
            for entry in record.get("files", []):
                if not rules.is_current_pdf(entry):
                    continue
                counts["pdfs"] += 1
                item = {"record_id": record["_id"], "name": entry.get("name"), "sha256": entry["sha256"]}
                try:
                    pdf = await files.get(entry["sha256"])
                except (BlobNotFound, BlobIntegrityError) as exc:  # fixity alerts on this; nothing to stamp
                    counts["unreadable"] += 1
                    items.append({**item, "outcome": "unreadable", "detail": str(exc)})
                    continue
                found = await asyncio.to_thread(inspect_pdf, pdf)
                if found.problem:
                    counts["unreadable"] += 1
                    items.append({**item, "outcome": "unreadable", "detail": found.problem})
                    continue
                decision = rules.decide(signatures=len(found.signatures), timestamps=found.timestamps, now=now,
                                        margin_days=settings.archive_retimestamp_margin_days)
                key = f"{rules.ALERT_KIND}:{record['_id']}:{entry['sha256']}"
                if decision.action in ("nothing_to_preserve", "none"):
                    counts["nothing_to_preserve" if decision.action == "nothing_to_preserve" else "not_due"] += 1
                    good_keys.add(key)
                    continue
                if decision.action == "chain_expired":
                    counts["chain_expired"] += 1
                    items.append({**item, "outcome": "chain_expired", "decision": decision.to_dict()})
                    await _file_alert(ctx, key, "chain_expired", item, decision.reason, run_id)
                    continue
                current = await probe()
                if current is None:
                    counts["pending_tsa_unreachable"] += 1
                    continue
                if not rules.tsa_extends(decision, current):
                    counts["deferred_tsa_certificate"] += 1
                    continue
                outcome = await _preserve(ctx, record["_id"], entry, pdf, decision, roots, crl_cache, run_id, key)
                if outcome["outcome"] == "tsa_unreachable":
                    tsa.update(reachable=False, error=outcome["detail"])
                    tsa_down = True
                    counts["pending_tsa_unreachable"] += 1
                    continue
                if outcome["outcome"] == "timestamped":
                    good_keys.add(key)
                counts[outcome["outcome"]] += 1
                items.append({**item, **outcome})
    except Exception as exc:
        await db[RUNS].update_one({"_id": run_id}, {"$set": {
            "state": "error", "finished_at": utcnow(), "error": f"{type(exc).__name__}: {exc}", "counts": counts}})
        raise
    await _tsa_alerts(ctx, run_id, counts, tsa)
    await _close_file_alerts(ctx, run_id, good_keys)
    finished = utcnow()
    summary = {"state": "finished", "finished_at": finished, "counts": counts, "tsa": tsa, "items": items[:1000],
               "tsa_unreachable": counts["pending_tsa_unreachable"] > 0, "seconds": round(time.monotonic() - clock, 3)}
    await db[RUNS].update_one({"_id": run_id}, {"$set": summary})
    LAST_RUN.set(finished.timestamp())
    PENDING.set(counts["pending_tsa_unreachable"] + counts["deferred_tsa_certificate"])
    PROBLEMS.set(counts["chain_invalid"] + counts["chain_expired"])
    log.info("preservation run finished", run_id=run_id, **counts)
    return {"_id": run_id, "trigger": trigger, "started_at": started, **summary}


async def _preserve(ctx: ServiceContext, rid: str, entry: dict, pdf: bytes, decision: Decision, roots,
                    crl_cache: CrlCache, run_id: str, key: str) -> dict:
    settings = ctx.settings
    item = {"record_id": rid, "name": entry.get("name"), "sha256": entry["sha256"]}
    try:
        new_pdf, report = await asyncio.to_thread(
            _blocking, lambda: _stamp(pdf, roots, crl_cache, settings.tsa_url, settings.tsa_timeout_seconds))
    except TsaUnavailable as exc:
        log.warning("TSA unreachable, archive timestamp postponed", record_id=rid, error=str(exc))
        return {"outcome": "tsa_unreachable", "detail": str(exc)}
    except ChainInvalid as exc:
        log.error("archived signature chain does not validate", record_id=rid, file=entry.get("name"), detail=str(exc))
        await _file_alert(ctx, key, "chain_invalid", item, str(exc), run_id)
        return {"outcome": "chain_invalid", "detail": str(exc)}
    facts = await validate_pdf_signatures(new_pdf, roots, crl_cache=crl_cache, final_attempt=True)
    broken = [f.field for f in facts if not (f.intact and f.valid) or f.modified_after]
    if broken:
        await _file_alert(ctx, key, "chain_invalid", item, f"not intact after stamping: {broken}", run_id)
        return {"outcome": "chain_invalid", "detail": f"signatures not intact after stamping: {broken}"}
    levels = sorted({f.level for f in facts})
    level = levels[0] if len(levels) == 1 else ",".join(levels)
    kept = await _files(ctx).put(new_pdf, media_type=entry.get("media_type", "application/pdf"), name=entry.get("name", ""))
    at = utcnow()
    stamp = report["timestamp"]
    new_entry = rules.derived_entry(entry, sha256=kept.sha256, size=kept.size, at=at, level=level,
                                    timestamped_at=stamp["at"], tsa_not_after=stamp["tsa_not_after"])

    async def work(uow):
        record = await uow.db[repo.RECORDS].find_one({"_id": rid}, session=uow.session)
        files = (record or {}).get("files", [])
        current = next((f for f in files if f["sha256"] == entry["sha256"]), None)
        if record is None or record.get("withdrawn") or current is None or not rules.is_current_pdf(current):
            return False  # changed meanwhile (recalled, stamped by another run): leave it
        updated = [{**f, "superseded_by": kept.sha256} if f is current else f for f in files] + [new_entry]
        await uow.db[repo.RECORDS].update_one({"_id": rid}, {"$set": {"files": updated}}, session=uow.session)
        uow.audit("record.file.retimestamped", subject_type="record", subject_id=rid, actor=ACTOR, details={
            "reason": rules.REASON, "from_sha256": entry["sha256"], "to_sha256": kept.sha256, "size": kept.size,
            "name": entry.get("name"), "level": level, "decision": decision.to_dict(), "timestamp": stamp,
            "chain": report["chain"], "run_id": run_id})
        return True

    if not await ctx.store.transaction(work):
        return {"outcome": "not_due", "detail": "record changed during the run"}
    TIMESTAMPS_ADDED.inc()
    log.info("archive document timestamp added", record_id=rid, file=entry.get("name"), level=level,
             from_sha256=entry["sha256"], to_sha256=kept.sha256)
    return {"outcome": "timestamped", "new_sha256": kept.sha256, "level": level, "timestamp": stamp}


async def _file_alert(ctx: ServiceContext, key: str, what: str, item: dict, detail: str, run_id: str) -> None:
    await raise_alert(ctx, kind=rules.ALERT_KIND, key=key, severity="critical",
                      message=rules.MESSAGES_VI[what].format(name=item.get("name"), record_id=item["record_id"]),
                      details={"problem": what, "detail": detail, **item}, subject=item, run_id=run_id,
                      audit_action=f"preservation.{what}", subject_type="record", subject_id=item["record_id"])


async def _close_file_alerts(ctx: ServiceContext, run_id: str, good: set[str]) -> None:
    async for alert in ctx.store.db[ALERTS].find({"kind": rules.ALERT_KIND, "open": True, "subject.record_id": {"$exists": True}}):
        if alert["key"] in good:
            await close_alert(ctx, alert, run_id=run_id, resolution="found in order", audit_action="preservation.resolved",
                              subject_type="record", subject_id=alert["subject"]["record_id"])


async def _tsa_alerts(ctx: ServiceContext, run_id: str, counts: dict, tsa: dict) -> None:
    """One alert for the TSA away, one for its certificate too close to expiry; closed when not so."""
    pending, deferred = counts["pending_tsa_unreachable"], counts["deferred_tsa_certificate"]
    for key, active, what, severity, fmt in (
        (TSA_ALERT_KEY, pending > 0, "tsa_unreachable", "critical", {"pending": pending}),
        (TSA_CERT_ALERT_KEY, deferred > 0, "tsa_certificate", "warning",
         {"pending": deferred, "not_after": tsa["not_after"].date().isoformat() if tsa.get("not_after") else "?"}),
    ):
        if active:
            await raise_alert(ctx, kind=rules.ALERT_KIND, key=key, severity=severity,
                              message=rules.MESSAGES_VI[what].format(**fmt),
                              details={"problem": what, "tsa_url": tsa["url"], "error": tsa.get("error"),
                                       "tsa_not_after": tsa.get("not_after"), **fmt},
                              subject={"tsa_url": tsa["url"]}, run_id=run_id, audit_action=f"preservation.{what}",
                              subject_type="tsa", subject_id=str(tsa["url"]))
            continue
        alert = await ctx.store.db[ALERTS].find_one({"kind": rules.ALERT_KIND, "key": key, "open": True})
        if alert is not None:
            await close_alert(ctx, alert, run_id=run_id, resolution="resolved", audit_action="preservation.resolved",
                              subject_type="tsa", subject_id=str(tsa["url"]))


async def status_of(ctx: ServiceContext, rid: str) -> dict | None:
    """What preservation says about a record's PDFs now (read-only)."""
    record = await repo.get(ctx.store.db, rid)
    if record is None:
        return None
    files = _files(ctx)
    now = utcnow()
    out = []
    for entry in record.get("files", []):
        is_pdf = entry.get("media_type") == "application/pdf" or str(entry.get("name", "")).lower().endswith(".pdf")
        if not is_pdf:
            continue
        row = {k: entry.get(k) for k in ("sha256", "size", "name", "derived_from", "derivation", "superseded_by", "destroyed")}
        if rules.is_current_pdf(entry):
            try:
                found = await asyncio.to_thread(inspect_pdf, await files.get(entry["sha256"]))
                decision = rules.decide(signatures=len(found.signatures), timestamps=found.timestamps, now=now,
                                        margin_days=ctx.settings.archive_retimestamp_margin_days)
                row.update(current=True, signatures=found.signatures, timestamps=[t.to_dict() for t in found.timestamps],
                           decision=decision.to_dict(), problem=found.problem)
            except (BlobNotFound, BlobIntegrityError) as exc:
                row.update(current=True, problem=str(exc))
        out.append(row)
    return {"record_id": rid, "files": out}


async def preservation_schedule(ctx: ServiceContext) -> None:
    async def job(c: ServiceContext) -> None:
        try:
            await run_preservation(c, trigger="schedule")
        except PreservationRunning:
            log.info("preservation run skipped: one is under way")

    await _scheduled(ctx, runs=RUNS, interval=lambda: ctx.settings.preservation_interval_seconds, job=job,
                     name="preservation")
