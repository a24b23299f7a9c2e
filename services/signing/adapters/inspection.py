"""Reading and validating the signatures already in a PDF (pyHanko validation).

`inspect_signatures` lists every signature in document order with what the signing rules
need (domain.rules.SignatureFacts); `check_agency_may_sign` applies R-8.3c to a PDF.

Trust is ONLY the configured roots (the commune's dev CA here; the national root CA and the
licensed CAs in production) — never the operating system's trust store. No network fetching:
revocation is checked "soft-fail" with what is embedded, until OCSP/CRL access is wired up.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from services.signing.adapters.keys import key_id_of
from services.signing.adapters.token import to_asn1_cert
from services.signing.domain.rules import (
    Decision,
    SignatureFacts,
    check_agency_signature_allowed,
)


@dataclass(frozen=True)
class TrustSettings:
    roots: tuple[asn1_x509.Certificate, ...]
    intermediates: tuple[asn1_x509.Certificate, ...] = ()
    revocation_mode: str = "soft-fail"

    @classmethod
    def of(cls, roots: Iterable, intermediates: Iterable = ()) -> TrustSettings:
        """Accepts asn1crypto or `cryptography` certificates, PEM/DER bytes or paths."""
        return cls(tuple(to_asn1_cert(c) for c in roots), tuple(to_asn1_cert(c) for c in intermediates))

    def validation_context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=list(self.roots),
            other_certs=list(self.intermediates),
            allow_fetching=False,
            revocation_mode=self.revocation_mode,
        )


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except Exception:  # noqa: BLE001 - odd subjects must not break the listing
        return None


async def _inspect(pdf: bytes, trust: TrustSettings) -> list[SignatureFacts]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    facts: list[SignatureFacts] = []
    embedded: list[EmbeddedPdfSignature] = []
    for name, sig_obj, field_ref in enumerate_sig_fields(reader, filled_status=True):
        if sig_obj.get_object().get("/Type", "/Sig") != "/Sig":
            continue  # document timestamps are not signatures of a person or an agency
        try:
            embedded.append(EmbeddedPdfSignature(reader, field_ref, name))
        except Exception as exc:  # noqa: BLE001 - garbage in /Contents is a broken signature
            facts.append(
                SignatureFacts(name, None, "", -1, False, False, False, False, False,
                               f"unreadable signature: {type(exc).__name__}: {exc}")
            )
    for emb in sorted(embedded, key=lambda e: e.signed_revision):
        try:
            cert = emb.signer_cert
            key_id, cn = key_id_of(cert), _common_name(cert)
        except Exception as exc:  # noqa: BLE001
            facts.append(
                SignatureFacts(emb.field_name, None, "", emb.signed_revision, False, False, False,
                               False, False, f"no signer certificate: {exc}")
            )
            continue
        try:
            status = await async_validate_pdf_signature(emb, trust.validation_context())
        except Exception as exc:  # noqa: BLE001 - a malformed signature is just not valid
            facts.append(
                SignatureFacts(emb.field_name, cn, key_id, emb.signed_revision, False, False, False,
                               False, False, f"validation failed: {type(exc).__name__}: {exc}")
            )
            continue
        coverage = status.coverage
        covers = coverage is not None and coverage >= SignatureCoverageLevel.ENTIRE_REVISION
        level = status.modification_level
        later_ok = (
            covers
            and status.docmdp_ok is not False
            and level is not None
            and level <= ModificationLevel.FORM_FILLING
        )
        problems = []
        if not status.intact:
            problems.append("digest mismatch")
        if not status.valid:
            problems.append("signature value invalid")
        if not status.trusted:
            problems.append(f"untrusted ({status.trust_problem_indic})")
        if not covers:
            problems.append(f"coverage {coverage}")
        if covers and not later_ok:
            problems.append(f"later modification level {level}")
        facts.append(
            SignatureFacts(
                field_name=emb.field_name,
                signer_cn=cn,
                signer_key_id=key_id,
                revision=emb.signed_revision,
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted),
                covers_revision=covers,
                later_changes_ok=later_ok,
                problem="; ".join(problems) or None,
            )
        )
    return facts


def inspect_signatures_blocking(pdf: bytes, trust: TrustSettings) -> list[SignatureFacts]:
    return asyncio.run(_inspect(pdf, trust))


async def inspect_signatures(pdf: bytes, trust: TrustSettings) -> list[SignatureFacts]:
    """Every signature in the PDF, in the order they were applied (by revision), each with
    field name, signer CN, intact/valid/trusted, coverage and later-change checks. CPU-bound:
    runs in a worker thread."""
    return await asyncio.to_thread(inspect_signatures_blocking, pdf, trust)


async def check_agency_may_sign(
    pdf: bytes,
    trust: TrustSettings,
    *,
    agency_key_ids: Iterable[str],
    leader_key_ids: Iterable[str] | None = None,
) -> tuple[Decision, Sequence[SignatureFacts]]:
    """R-8.3c on a concrete PDF: (decision, the signatures found)."""
    facts = await inspect_signatures(pdf, trust)
    return check_agency_signature_allowed(facts, agency_key_ids=agency_key_ids, leader_key_ids=leader_key_ids), facts
