"""Applying a signature with a key on the token: the leader's into the document's signature
field, the agency's — only over a valid leader signature (R-8.3c) — with the red seal over the
left third of it. Every use of a key, or refusal to use it, is recorded and audited."""

from __future__ import annotations

import time

from pkcs11.exceptions import PKCS11Error
from prometheus_client import Counter, Histogram
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

from services.signing.adapters import repository as repo
from services.signing.adapters.flows import (
    AgencySignatureRefused,
    sign_annex,
    sign_as_agency,
    sign_as_leader,
    sign_digitised,
)
from services.signing.adapters.pades import SignatureFieldError
from services.signing.adapters.token import TokenError
from services.signing.domain import custody as custody_rules
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Reject, Retry
from shared.clock import utcnow
from shared.contracts.messages import (
    SignatureApplied,
    SignatureRefused,
    SignatureRequested,
)
from shared.db import AlreadyProcessed
from shared.logging import get_logger
from shared.service import ServiceContext
from shared.staff import load_staff

log = get_logger(__name__)
SIGNATURES = Counter("vanthu_signing_signatures_total", "Signature requests", ["key", "role", "level", "outcome"])
# Retries (1 s … 10 min apart) while the token is away: days, not a refusal.
TOKEN_WAIT_ATTEMPTS = 1000
SIGN_SECONDS = Histogram("vanthu_signing_seconds", "Time to sign one document on the token", ["key"])


async def on_signature_requested(message: SignatureRequested, delivery: Delivery, ctx: ServiceContext) -> None:
    if await repo.get(ctx.store.db, message.request_id) is not None:
        raise AlreadyProcessed(message.message_id)
    if not ctx.extras.get("token_open"):
        # a pulled token is waited for, never a refusal; the watcher reopens it.
        raise Retry("token unavailable", max_attempts=TOKEN_WAIT_ATTEMPTS)
    ring = ctx.extras["ring"]
    if message.key_label not in ring.labels:
        await _refuse(ctx, message, f"no key labelled {message.key_label!r} on the token",
                      f"Không có khóa «{message.key_label}» trên thiết bị ký số")
        return
    key = ring.key(message.key_label)
    # R-8.3a: only the key's holder, or a delegate of the chairman, may use it.
    custody = custody_rules.may_use(
        message.key_label, message.requested_by_user, holders=ctx.settings.holders_of_keys(),
        staff=load_staff(ctx.settings.staff_file), at=utcnow(),
        delegations=await repo.delegations_for(ctx.store.db, custody_rules.user_of(message.requested_by_user),
                                               message.key_label))
    if not custody.allowed:
        await _refuse(ctx, message, custody.reason_en, custody.reason_vi)
        return
    try:
        pdf = await ctx.blob_client.fetch(message.pdf)
    except (BlobUnavailable, BlobNotFound) as exc:
        raise Retry(f"document not fetched from {message.pdf.service}: {exc}") from exc
    except BlobIntegrityError as exc:
        raise Reject(str(exc)) from exc

    images = ctx.extras["images"]
    settings = ctx.settings
    stamping = {"timestamper": HTTPTimeStamper(settings.tsa_url, timeout=settings.tsa_timeout_seconds)} if settings.tsa_url else {}
    level = "PAdES-B-T" if stamping else "PAdES-B-B"
    started = time.perf_counter()
    try:
        if message.role == "leader":
            signed = await sign_as_leader(pdf, key=key, signature_png=images[message.key_label],
                                          reason=message.reason, location=settings.agency_place, **stamping)
        elif message.role == "annex":  # II.8: an annex in its own file: số/ký hiệu and time, top right, no image
            signed = await sign_annex(pdf, key=key, number_notation=message.stamp_text, reason=message.reason,
                                      location=settings.agency_place, **stamping)
        elif message.role == "digitised":  # top left of page 1, seal, agency name, ISO 8601 time
            signed = await sign_digitised(pdf, key=key, agency_name=settings.agency_name, seal_png=images[message.key_label],
                                          reason=message.reason, location=settings.agency_place, **stamping)
        else:
            signed = await sign_as_agency(
                pdf, key=key, trust=ctx.extras["trust"], agency_name=settings.agency_name, seal_png=images[message.key_label],
                leader_key_ids=ctx.extras["leader_key_ids"], reason=message.reason, location=settings.agency_place,
                **stamping,
            )
    except AgencySignatureRefused as exc:
        await _refuse(ctx, message, exc.decision.reason_en, exc.decision.reason_vi)
        return
    except (TokenError, PKCS11Error) as exc:
        # The token went away while signing (the ring already retried once on a fresh session).
        ctx.extras["token_open"] = False
        raise Retry(f"token unavailable: {type(exc).__name__} {exc}", max_attempts=TOKEN_WAIT_ATTEMPTS) from exc
    except TimestampRequestError as exc:
        # Configured but away: wait for it rather than silently sign at a lower level.
        raise Retry(f"time-stamping server {settings.tsa_url} unavailable: {exc}") from exc
    except SignatureFieldError as exc:
        await _refuse(ctx, message, str(exc), f"Không đặt được chữ ký số vào văn bản: {exc}")
        return
    SIGN_SECONDS.labels(key=message.key_label).observe(time.perf_counter() - started)
    blob = await ctx.blobs.put(signed, media_type="application/pdf", name=f"{message.document_key}-{message.role}.pdf")
    now = utcnow()
    subject = key.certificate.subject.human_friendly

    async def work(uow):
        await uow.claim("signing.requests", message.request_id)
        await repo.insert(uow, {
            "_id": message.request_id, "document_key": message.document_key, "role": message.role,
            "key_label": message.key_label, "key_id": key.key_id, "signer_subject": subject,
            "requested_by_user": message.requested_by_user, "input_sha256": message.pdf.sha256,
            "output_sha256": blob.sha256, "at": now, "outcome": "signed", "level": level, "custody": custody.basis,
        })
        uow.publish(SignatureApplied(request_id=message.request_id, document_key=message.document_key, role=message.role,
                                     requested_by=message.requested_by,
                                     key_label=message.key_label, signed_pdf=blob, signer_subject=subject, signed_at=now,
                                     level=level,
                                     urgent=message.urgent))
        uow.audit("key.used", subject_type="document", subject_id=message.document_key, actor=message.requested_by_user,
                  details={"key_label": message.key_label, "key_id": key.key_id, "role": message.role, "custody": custody.basis,
                           "input_sha256": message.pdf.sha256, "output_sha256": blob.sha256})

    await ctx.store.transaction(work)
    SIGNATURES.labels(key=message.key_label, role=message.role, level=level, outcome="signed").inc()
    log.info("signature applied", document_key=message.document_key, role=message.role, key=message.key_label)


async def _refuse(ctx: ServiceContext, message: SignatureRequested, reason: str, reason_vi: str) -> None:
    async def work(uow):
        await uow.claim("signing.requests", message.request_id)
        await repo.insert(uow, {
            "_id": message.request_id, "document_key": message.document_key, "role": message.role,
            "key_label": message.key_label, "requested_by_user": message.requested_by_user,
            "input_sha256": message.pdf.sha256, "at": utcnow(), "outcome": "refused", "reason": reason,
        })
        uow.publish(SignatureRefused(request_id=message.request_id, document_key=message.document_key, role=message.role,
                                     requested_by=message.requested_by,
                                     reason=reason, reason_vi=reason_vi, urgent=message.urgent))
        uow.audit("key.use_refused", subject_type="document", subject_id=message.document_key, actor=message.requested_by_user,
                  details={"key_label": message.key_label, "role": message.role, "reason": reason})

    await ctx.store.transaction(work)
    SIGNATURES.labels(key=message.key_label, role=message.role, level="none", outcome="refused").inc()
    log.warning("signature refused", document_key=message.document_key, role=message.role, reason=reason)
