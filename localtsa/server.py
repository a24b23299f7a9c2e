"""POST / with `application/timestamp-query` → `application/timestamp-reply` (RFC 3161 §3.4).
Tokens are made by pyHanko's own TSA implementation (DummyTimeStamper) with a TSA key certified
by the server's CA, both kept in its data directory; `/ca.pem` publishes the CA for trust stores.
`/_control` switches it off to test what happens when the time-stamping server is away."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from shared import devpki

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"


def ensure_keys(data_dir: Path) -> tuple[devpki.CertifiedKey, devpki.CertifiedKey]:
    """The TSA's CA and its key, made once and kept."""
    if not (data_dir / "tsa.crt.pem").exists():
        ca = devpki.make_ca("CA thử nghiệm dịch vụ cấp dấu thời gian", "vanthu - môi trường thử nghiệm")
        tsa = devpki.issue_tsa_key(ca, common_name="Dịch vụ cấp dấu thời gian thử nghiệm", organization="vanthu")
        devpki.save(ca, data_dir, "ca")
        devpki.save(tsa, data_dir, "tsa")
    return devpki.load(data_dir, "ca"), devpki.load(data_dir, "tsa")


class Switch(BaseModel):
    available: bool = True


def create_app(data_dir: Path) -> FastAPI:
    ca, tsa = ensure_keys(data_dir)
    to_asn1 = asn1_x509.Certificate.load
    stamper = DummyTimeStamper(
        tsa_cert=to_asn1(tsa.certificate.public_bytes(Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())),
        certs_to_embed=SimpleCertificateStore.from_certs([to_asn1(ca.certificate.public_bytes(Encoding.DER))]),
    )
    state = {"available": True, "issued": 0}
    app = FastAPI(title="vanthu local time-stamping server (RFC 3161)")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "issued": state["issued"], "available": state["available"]}

    @app.get("/ca.pem")
    def ca_pem() -> Response:
        return Response(devpki.cert_pem(ca.certificate), media_type="application/x-pem-file")

    @app.post("/")
    async def timestamp(request: Request) -> Response:
        if not state["available"]:
            return JSONResponse({"detail": "time-stamping server unavailable (fault)"}, status_code=503)
        if request.headers.get("content-type", "").split(";")[0].strip() != QUERY:
            return JSONResponse({"detail": f"expected {QUERY}"}, status_code=415)
        body = await request.body()
        try:
            query = tsp.TimeStampReq.load(body)
            query.native  # parse now: garbage is refused here, as RFC 3161 §2.4.2 asks
        except Exception:  # noqa: BLE001 - any undecodable request
            rejection = tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("rejection"),
                                                                        "fail_info": tsp.PKIFailureInfo({"bad_data_format"})})})
            return Response(rejection.dump(), media_type=REPLY)
        reply = stamper.request_tsa_response(query)
        state["issued"] += 1
        return Response(reply.dump(), media_type=REPLY)

    @app.post("/_control")
    def control(switch: Switch) -> dict:
        state["available"] = switch.available
        return {"available": state["available"]}

    return app
