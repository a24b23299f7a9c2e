"""Validating the digital signatures of a received PDF with pyHanko (R-4.1, R-6.1).

Trust is only the configured roots (settings.trust_roots), never the system store. Revocation
is checked against the CRLs named in the certificates, fetched here and cached until their
nextUpdate (at most CRL_CACHE_SECONDS), so a batch from one agency costs one fetch. When a CRL
cannot be had, the signature is "indeterminate" (retry later), not "passed" — unless this is
the last attempt, when the document is accepted without revocation data and the report says so.
pyHanko is CPU-bound: each PDF is validated in a worker thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time
from functools import lru_cache
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext



@dataclass(frozen=True)
class SignatureFact:
    """What the PDF signature adapter found about one signature."""

    field: str
    signer_cn: str | None
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the cryptographic signature verifies
    trusted: bool | None  # chains to a configured trust root (None: could not decide)
    modified_after: bool  # changes after signing beyond allowed form filling / signatures
    revoked: bool = False
    revocation_unavailable: bool = False
    note: str = ""
    readable: bool = True  # the signature dictionary / CMS blob could be parsed at all
    trust_problem: str = ""  # pyHanko's AdES sub-indication when not trusted, e.g. NO_CERTIFICATE_CHAIN_FOUND
    validator_error: bool = False  # the validator itself failed on a readable signature: ours to retry
    non_repudiation: bool | None = True  # key usage allows it (None: no key usage extension, unrestricted)
    level: str = ""  # PAdES-B-B … PAdES-B-LTA, CMS, other:<subfilter>
    revocation: str = ""  # checked | not_checked (no CRL named) | unavailable
    signed_at: str = ""  # the signer's claimed time (ISO 8601)
    timestamped_at: str = ""  # the RFC 3161 timestamp's time, when there is one

    def to_dict(self) -> dict:
        return asdict(self)


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


class CrlCache:
    """CRLs by URL, kept until their nextUpdate or CRL_CACHE_SECONDS, whichever is sooner."""

    def __init__(self, max_age_seconds: float = 300.0, timeout_seconds: float = 10.0) -> None:
        self.max_age = max_age_seconds
        self.timeout = timeout_seconds
        self._entries: dict[str, tuple[float, asn1_crl.CertificateList]] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> asn1_crl.CertificateList | None:
        """The CRL, or None when it cannot be had now (unreachable, garbage, expired)."""
        with self._lock:
            entry = self._entries.get(url)
        if entry and time.monotonic() - entry[0] < self.max_age and not _expired(entry[1]):
            return entry[1]
        try:
            response = httpx.get(url, timeout=self.timeout, follow_redirects=True)
            response.raise_for_status()
            data = response.content
            crl = asn1_crl.CertificateList.load(pem.unarmor(data)[2] if pem.detect(data) else data)
            crl.native  # parse now: garbage must fail here, not inside the validator
        except Exception:  # noqa: BLE001 - any failure means "no revocation data now"
            # A CRL fetched before and not yet past its nextUpdate is still valid revocation data.
            return entry[1] if entry and self.max_age > 0 and not _expired(entry[1]) else None
        with self._lock:
            self._entries[url] = (time.monotonic(), crl)
        return crl


def _expired(crl: asn1_crl.CertificateList) -> bool:
    next_update = crl["tbs_cert_list"]["next_update"].native
    return next_update is not None and next_update < dt.datetime.now(dt.timezone.utc)




def _crl_urls(certs) -> list[str]:
    urls = []
    for cert in certs:
        try:
            urls.extend(dp.url for dp in cert.crl_distribution_points if dp.url)
        except Exception:  # noqa: BLE001 - a malformed extension is no revocation source
            continue
    return list(dict.fromkeys(urls))


def _context(roots, others, crls, mode: str) -> ValidationContext:
    return ValidationContext(trust_roots=list(roots), other_certs=list(others), crls=list(crls),
                             allow_fetching=False, revocation_mode=mode)


def _non_repudiation(cert: asn1_x509.Certificate) -> bool | None:
    """Whether the certificate allows non-repudiation (content commitment). None: it carries no
    key usage extension, which RFC 5280 §4.2.1.3 reads as unrestricted."""
    try:
        usage = cert.key_usage_value
    except Exception:  # noqa: BLE001 - a malformed extension allows nothing
        return False
    return None if usage is None else "non_repudiation" in usage.native


def _has_signature_timestamp(emb: EmbeddedPdfSignature) -> bool:
    unsigned = emb.signer_info["unsigned_attrs"]
    return bool(unsigned.native) and any(a["type"].native == "signature_time_stamp_token" for a in unsigned)


def _level(emb: EmbeddedPdfSignature, reader: PdfFileReader, has_document_timestamp: bool) -> str:
    """The signature's level as ETSI EN 319 142-1 names it, from what the PDF carries."""
    subfilter = str(emb.sig_object.get("/SubFilter", ""))
    if subfilter != "/ETSI.CAdES.detached":
        return "CMS" if subfilter == "/adbe.pkcs7.detached" else f"other:{subfilter.lstrip('/')}"
    if not _has_signature_timestamp(emb):
        return "PAdES-B-B"
    if "/DSS" not in reader.root:
        return "PAdES-B-T"
    return "PAdES-B-LTA" if has_document_timestamp else "PAdES-B-LT"


def _cn(cert: asn1_x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except Exception:  # noqa: BLE001 - odd subjects must not break validation
        return None


async def _validate(pdf: bytes, roots, *, final_attempt: bool, crl_cache: CrlCache) -> list[SignatureFact]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    facts: list[SignatureFact] = []
    embedded = []
    has_document_timestamp = False
    for name, sig_obj, field_ref in enumerate_sig_fields(reader, filled_status=True):
        if sig_obj.get_object().get("/Type", "/Sig") != "/Sig":
            has_document_timestamp = True  # a document timestamp (B-LTA), not a signer's signature
            continue
        try:
            embedded.append(EmbeddedPdfSignature(reader, field_ref, name))
        except Exception as exc:  # noqa: BLE001 - garbage in /Contents is a broken signature
            facts.append(SignatureFact(name, None, False, False, False, False, note=f"unreadable: {exc}", readable=False))
    for emb in sorted(embedded, key=lambda e: e.signed_revision):
        try:
            cert = emb.signer_cert
            others = list(emb.other_embedded_certs)
        except Exception as exc:  # noqa: BLE001
            facts.append(SignatureFact(emb.field_name, None, False, False, False, False, note=f"no signer certificate: {exc}", readable=False))
            continue
        urls = _crl_urls([cert, *others])
        crls = [c for c in (crl_cache.get(url) for url in urls) if c is not None]  # already off the event loop
        have_all = len(crls) == len(urls)
        # hard-fail when every CRL is at hand: a revoked certificate fails; else soft-fail and
        # report the missing revocation data (indeterminate), never a silent pass.
        mode = "hard-fail" if urls and have_all else "soft-fail"
        try:
            status = await async_validate_pdf_signature(emb, _context(roots, others, crls, mode))
        except Exception as exc:  # noqa: BLE001
            # A readable signature the validator chokes on: retried (indeterminate); on the last
            # attempt it counts as unreadable and the sender is told.
            facts.append(SignatureFact(emb.field_name, _cn(cert), False, False, False, False,
                                       note=f"validation error: {type(exc).__name__}: {exc}", readable=False,
                                       validator_error=not final_attempt))
            continue
        coverage = status.coverage
        covers = coverage is not None and coverage >= SignatureCoverageLevel.ENTIRE_REVISION
        level = status.modification_level
        modified_after = not (covers and status.docmdp_ok is not False and level is not None
                              and level <= ModificationLevel.FORM_FILLING)
        revocation_unavailable = bool(urls) and not have_all and bool(status.trusted)
        note = "revocation checked" if urls and have_all else ""
        revocation = "checked" if urls and have_all else ("not_checked" if not urls else "unavailable")
        if revocation_unavailable:
            missing = [u for u in urls if crl_cache.get(u) is None]
            note = f"no revocation data from {', '.join(missing)}"
            if final_attempt:
                revocation_unavailable = False
                note = f"accepted on the last attempt without revocation data ({note})"
        elif not urls:
            note = "revocation not checked: the certificate names no CRL"
        facts.append(SignatureFact(
            field=emb.field_name, signer_cn=_cn(cert), intact=bool(status.intact), valid=bool(status.valid),
            trusted=bool(status.trusted), modified_after=modified_after, revoked=bool(status.revoked),
            revocation_unavailable=revocation_unavailable,
            note=note or str(status.trust_problem_indic or ""),
            trust_problem=status.trust_problem_indic.name if status.trust_problem_indic is not None else "",
            non_repudiation=_non_repudiation(cert), level=_level(emb, reader, has_document_timestamp), revocation=revocation,
            signed_at=status.signer_reported_dt.isoformat() if status.signer_reported_dt else "",
            timestamped_at=status.timestamp_validity.timestamp.isoformat() if status.timestamp_validity else "",
        ))
    return facts


# pyHanko's validation is not safe to run in several threads at once (seen: "list index out of
# range" inside it under a concurrent batch) and is CPU-bound under the GIL anyway: one at a time.
_ONE_AT_A_TIME = threading.Lock()


def validate_pdf_signatures_blocking(pdf: bytes, roots, *, crl_cache: CrlCache, final_attempt: bool = False) -> list[SignatureFact]:
    with _ONE_AT_A_TIME:
        return asyncio.run(_validate(pdf, roots, final_attempt=final_attempt, crl_cache=crl_cache))


async def validate_pdf_signatures(pdf: bytes, roots, *, crl_cache: CrlCache, final_attempt: bool = False) -> list[SignatureFact]:
    return await asyncio.to_thread(validate_pdf_signatures_blocking, pdf, roots, crl_cache=crl_cache, final_attempt=final_attempt)
