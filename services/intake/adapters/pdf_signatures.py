"""Validating the digital signatures of a received PDF with pyHanko (R-4.1, R-6.1).

Trust is only the configured roots (settings.trust_roots), never the system store. Revocation
is checked against the CRLs named in the certificates. Two passes per signature:
1. pyHanko's PDF validation (soft-fail revocation): integrity, cryptographic validity, the
   chain to a trust root, changes after signing, and revocation when the CRL is reachable;
2. the signer's chain again with hard-fail revocation: if the CRL cannot be had, the verdict
   is "indeterminate" (retry later), not "passed" — unless this is the last attempt, when
   the document is accepted without revocation data and the report says so.
pyHanko is CPU-bound: each PDF is validated in a worker thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import io
from functools import lru_cache
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import InsufficientRevinfoError, PathValidationError, RevokedError

from services.intake.domain.verification import SignatureFact

FETCH_TIMEOUT_SECONDS = 10


def load_trust_roots(paths: list[Path]) -> tuple[asn1_x509.Certificate, ...]:
    roots: list[asn1_x509.Certificate] = []
    for path in paths:
        stat = Path(path).stat()
        roots.extend(_load_pem_file(str(path), stat.st_mtime_ns))
    return tuple(roots)


@lru_cache(maxsize=64)
def _load_pem_file(path: str, _mtime: int) -> tuple[asn1_x509.Certificate, ...]:
    data = Path(path).read_bytes()
    if not pem.detect(data):
        return (asn1_x509.Certificate.load(data),)
    return tuple(asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE")


def _context(roots, others, mode: str) -> ValidationContext:
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    return ValidationContext(
        trust_roots=list(roots), other_certs=list(others), allow_fetching=True, revocation_mode=mode,
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=FETCH_TIMEOUT_SECONDS),
    )


def _cn(cert: asn1_x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except Exception:  # noqa: BLE001 - odd subjects must not break validation
        return None


async def _validate(pdf: bytes, roots, *, final_attempt: bool) -> list[SignatureFact]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    facts: list[SignatureFact] = []
    embedded = []
    for name, sig_obj, field_ref in enumerate_sig_fields(reader, filled_status=True):
        if sig_obj.get_object().get("/Type", "/Sig") != "/Sig":
            continue  # document timestamps
        try:
            embedded.append(EmbeddedPdfSignature(reader, field_ref, name))
        except Exception as exc:  # noqa: BLE001 - garbage in /Contents is a broken signature
            facts.append(SignatureFact(name, None, False, False, False, False, note=f"unreadable: {exc}"))
    for emb in sorted(embedded, key=lambda e: e.signed_revision):
        try:
            cert = emb.signer_cert
            others = list(emb.other_embedded_certs)
        except Exception as exc:  # noqa: BLE001
            facts.append(SignatureFact(emb.field_name, None, False, False, False, False, note=f"no signer certificate: {exc}"))
            continue
        try:
            status = await async_validate_pdf_signature(emb, _context(roots, others, "soft-fail"))
        except Exception as exc:  # noqa: BLE001 - a malformed signature is simply not valid
            facts.append(SignatureFact(emb.field_name, _cn(cert), False, False, False, False, note=f"validation error: {exc}"))
            continue
        coverage = status.coverage
        covers = coverage is not None and coverage >= SignatureCoverageLevel.ENTIRE_REVISION
        level = status.modification_level
        modified_after = not (covers and status.docmdp_ok is not False and level is not None
                              and level <= ModificationLevel.FORM_FILLING)
        revoked = status.revoked
        revocation_unavailable, note = False, ""
        if status.trusted and not revoked:
            revoked, revocation_unavailable, note = await _hard_revocation(cert, roots, others)
            if revocation_unavailable and final_attempt:
                revocation_unavailable = False
                note = f"accepted on the last attempt without revocation data ({note})"
        facts.append(SignatureFact(
            field=emb.field_name, signer_cn=_cn(cert), intact=bool(status.intact), valid=bool(status.valid),
            trusted=bool(status.trusted), modified_after=modified_after, revoked=bool(revoked),
            revocation_unavailable=revocation_unavailable, note=note or str(status.trust_problem_indic or ""),
        ))
    return facts


async def _hard_revocation(cert, roots, others) -> tuple[bool, bool, str]:
    """(revoked, revocation data unavailable, note)."""
    validator = CertificateValidator(cert, intermediate_certs=others, validation_context=_context(roots, others, "hard-fail"))
    try:
        await validator.async_validate_usage(set())
    except RevokedError as exc:
        return True, False, str(exc)
    except InsufficientRevinfoError as exc:
        return False, True, str(exc)
    except PathValidationError as exc:
        return False, False, f"chain re-check: {exc}"
    return False, False, "revocation checked"


def validate_pdf_signatures_blocking(pdf: bytes, roots, *, final_attempt: bool = False) -> list[SignatureFact]:
    return asyncio.run(_validate(pdf, roots, final_attempt=final_attempt))


async def validate_pdf_signatures(pdf: bytes, roots, *, final_attempt: bool = False) -> list[SignatureFact]:
    return await asyncio.to_thread(validate_pdf_signatures_blocking, pdf, roots, final_attempt=final_attempt)
