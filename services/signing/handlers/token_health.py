"""The token and the certificates as the operator watches them (R-13): whether the PKCS#11 token
answers (checked through the module, as signing reaches it), and the days left on each key's
certificate, the trust roots and the time-stamping server's certificate. `token_facts` feeds
both the console (GET /ops/status) and the gauges."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from prometheus_client import Gauge
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

from services.signing.adapters.token import TokenKeyRing
from shared.clock import utcnow
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)

TOKEN_AVAILABLE = Gauge("vanthu_token_available", "1 when the PKCS#11 token answered the last check with every key")
TOKEN_CHECK_SECONDS = Gauge("vanthu_token_check_seconds", "Time of the last token check through PKCS#11")
CERT_DAYS = Gauge("vanthu_certificate_days_left", "Days until a certificate expires (negative: expired)", ["kind", "certificate"])
CERT_NOT_AFTER = Gauge("vanthu_certificate_not_after_timestamp_seconds", "When a certificate expires (Unix time)", ["kind", "certificate"])

# Short enough for GET /ops/status (5 s per hook); the token's lock is held per PKCS#11 call only.
TOKEN_CHECK_TIMEOUT_SECONDS = 4.0
TSA_CHECK_TIMEOUT_SECONDS = 3.0
TSA_CHECK_EVERY = dt.timedelta(minutes=10)  # a timestamp request is a real use of the TSA: not every refresh


def _certificates_in(path: Path) -> list[asn1_x509.Certificate]:
    data = path.read_bytes()
    if pem.detect(data):
        return [asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
    return [asn1_x509.Certificate.load(data)]


def _cert_entry(kind: str, name: str, cert: asn1_x509.Certificate, now: dt.datetime, **extra) -> dict:
    not_after = cert.not_valid_after
    days = round((not_after - now).total_seconds() / 86400, 1)
    CERT_DAYS.labels(kind=kind, certificate=name).set(days)
    CERT_NOT_AFTER.labels(kind=kind, certificate=name).set(not_after.timestamp())
    return {"kind": kind, "key": name, "subject": cert.subject.human_friendly, "not_after": not_after.isoformat(),
            "days_left": days, **extra}


async def _check_token(ring: TokenKeyRing) -> tuple[bool, str | None]:
    started = time.perf_counter()
    try:
        found = await asyncio.wait_for(asyncio.to_thread(ring.check), TOKEN_CHECK_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return False, f"the token did not answer within {TOKEN_CHECK_TIMEOUT_SECONDS:.0f} s"
    except Exception as exc:  # noqa: BLE001 - whatever the module says, the token is not usable
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        TOKEN_CHECK_SECONDS.set(time.perf_counter() - started)
    missing = [label for label in ring.labels if label not in found]
    return (False, f"keys not found on the token: {', '.join(missing)}") if missing else (True, None)


async def _tsa_certificate(ctx: ServiceContext) -> tuple[asn1_x509.Certificate | None, str | None]:
    """The TSA's signing certificate, read from a timestamp it issues (cached; None if away)."""
    url = ctx.settings.tsa_url
    cached = ctx.extras.get("tsa_cert_check")
    if cached and cached["url"] == url and utcnow() - cached["at"] < TSA_CHECK_EVERY:
        return cached["cert"], cached["error"]
    cert, error = None, None
    try:
        stamper = HTTPTimeStamper(url, timeout=min(ctx.settings.tsa_timeout_seconds, TSA_CHECK_TIMEOUT_SECONDS))
        token = await stamper.async_timestamp(hashlib.sha256(b"vanthu certificate check").digest(), "sha256")
        signed = token["content"]
        sid = signed["signer_infos"][0]["sid"]
        for choice in signed["certificates"] or []:
            candidate = choice.chosen
            if sid.name == "issuer_and_serial_number" and candidate.serial_number == sid.chosen["serial_number"].native:
                cert = candidate
            elif sid.name == "subject_key_identifier" and candidate.key_identifier == sid.chosen.native:
                cert = candidate
        if cert is None:
            error = "the timestamp carries no signer certificate"
    except Exception as exc:  # noqa: BLE001 - unreachable or broken: said, not raised
        error = f"{type(exc).__name__}: {exc}"
    ctx.extras["tsa_cert_check"] = {"url": url, "at": utcnow(), "cert": cert, "error": error}
    return cert, error


async def token_facts(ctx: ServiceContext) -> dict:
    """{"token": {...}, "certificates": [...]} for the operator console; sets the gauges."""
    settings = ctx.settings
    ring: TokenKeyRing | None = ctx.extras.get("ring")
    now = utcnow()
    if ring is None:
        available, error = False, "the token was never opened"
    else:
        available, error = await _check_token(ring)
    TOKEN_AVAILABLE.set(1 if available else 0)
    token = {"available": available, "label": settings.token_label, "module": settings.token_module,
             "error": error, "checked_at": now.isoformat()}

    certificates: list[dict] = []
    holders = settings.holders_of_keys()
    for label in ring.labels if ring is not None else []:
        try:
            cert = ring.key(label).certificate
        except Exception:  # noqa: BLE001 - a key not open yet has no certificate to show
            continue
        certificates.append(_cert_entry("key", label, cert, now, holder=holders.get(label, [])))
    roots = [("ca", settings.token_config_dir / "pki" / "ca.crt.pem")] + [("trust_root", Path(p)) for p in settings.trust_roots]
    for kind, path in roots:
        try:
            certs = _certificates_in(path)
        except (OSError, ValueError) as exc:
            log.warning("certificate file not read", path=str(path), error=str(exc))
            continue
        for cert in certs:
            certificates.append(_cert_entry(kind, cert.subject.native.get("common_name") or path.name, cert, now, holder=[]))
    if settings.tsa_url:
        cert, tsa_error = await _tsa_certificate(ctx)
        if cert is not None:
            certificates.append(_cert_entry("tsa", cert.subject.native.get("common_name") or "tsa", cert, now,
                                            holder=[], url=settings.tsa_url))
        else:
            certificates.append({"kind": "tsa", "key": "tsa", "url": settings.tsa_url, "error": tsa_error})
    return {"token": token, "certificates": certificates}
