"""RFC 3161 time-stamping for the evidence seals: ask the TSA (settings.tsa_url) for a token
over a SHA-256 digest, and check a kept token later (signature by the TSA certificate, message
imprint, the certificate chained to the configured TSA roots, time-stamping usage)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext


class TsaUnavailable(Exception):
    """The TSA did not answer with a token (away, refusing, misconfigured): seal later."""


@dataclass(frozen=True)
class Token:
    der: bytes
    gen_time: dt.datetime
    serial: int
    tsa_subject: str


def _token_facts(content_info: cms.ContentInfo) -> Token:
    tst = content_info["content"]["encap_content_info"]["content"].parsed
    signed = content_info["content"]
    certs = [c.chosen for c in signed["certificates"] or []]
    tsa = next((c for c in certs if "time_stamping" in (c.extended_key_usage_value.native if c.extended_key_usage_value else [])), None)
    return Token(der=content_info.dump(), gen_time=tst["gen_time"].native, serial=int(tst["serial_number"].native),
                 tsa_subject=tsa.subject.human_friendly if tsa is not None else "")


async def timestamp(url: str, digest: bytes, *, timeout: float) -> Token:
    try:
        token = await HTTPTimeStamper(url, timeout=int(max(timeout, 1))).async_timestamp(digest, "sha256")
    except Exception as exc:  # aiohttp errors, a 503, a rejection: all mean "not now"
        raise TsaUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return _token_facts(token)


def load_roots(paths: list[Path]) -> list[asn1_x509.Certificate]:
    roots = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        data = path.read_bytes()
        if pem.detect(data):
            roots += [asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
        else:
            roots.append(asn1_x509.Certificate.load(data))
    return roots


async def check_token(der: bytes, digest: bytes, roots: list[asn1_x509.Certificate]) -> str | None:
    """None when the token is good for `digest`; else what is wrong with it."""
    try:
        content_info = cms.ContentInfo.load(der)
        signed = content_info["content"]
        imprint = signed["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"].native
    except Exception as exc:  # noqa: BLE001 - garbage in the store is a finding, not a crash
        return f"timestamp token unreadable: {exc}"
    if imprint != digest:
        return "timestamp token's message imprint differs from the sealed hash"
    if not roots:
        return "no TSA trust roots configured (TSA_TRUST_ROOTS or TRUST_ROOTS)"
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = await validate_tst_signed_data(signed, context, lambda _algorithm: digest)
    except Exception as exc:  # noqa: BLE001
        return f"timestamp token not verifiable: {exc}"
    if not status.get("intact") or not status.get("valid"):
        return "timestamp token's signature does not verify"
    if status.get("validation_path") is None or status.get("trust_problem_indic") is not None:
        return "timestamp token's TSA certificate does not chain to the TSA trust roots"
    usage = status["signing_cert"].extended_key_usage_value
    if usage is None or "time_stamping" not in usage.native:
        return "timestamp token signed by a certificate without the time-stamping usage"
    return None
