"""PAdES B-T (issue 4 point 3): signatures on the token carry an RFC 3161 timestamp from the
configured time-stamping server — here the project's own local one, a real HTTP server in its
own process — and validate with the TSA's CA trusted; with the server away, signing fails with
TimestampRequestError (the signing service then retries; it never downgrades silently)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time

import httpx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from devstack.processes import free_port
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from services.signing.adapters.flows import sign_as_leader
from shared.pdfdocs import render_document

pytestmark = pytest.mark.token


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


async def test_a_leader_signature_with_a_timestamp_is_b_t_and_validates(keyring, images, signing_time, tsa, token_env):
    url, data = tsa
    signed = await sign_as_leader(render_document().pdf, key=keyring.key("chairman"), signature_png=images[0],
                                  signing_time=signing_time, timestamper=HTTPTimeStamper(url + "/"))
    (emb,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    tsa_root = load_trust_roots([data / "ca.crt.pem"])
    roots = [*tsa_root, *load_trust_roots([token_env.ca_cert])]
    status = await async_validate_pdf_signature(emb, ValidationContext(trust_roots=roots),
                                                ts_validation_context=ValidationContext(trust_roots=tsa_root))
    assert status.bottom_line and status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid and status.timestamp_validity.trusted
    # The TSA's time is now (the claimed signing time of the fixture is fixed in the past).
    assert abs((status.timestamp_validity.timestamp - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 120
    # Intake's verification names the level from what the PDF carries.
    (fact,) = await validate_pdf_signatures(signed, roots, crl_cache=CrlCache(0),
                                               final_attempt=True)
    assert fact.level == "PAdES-B-T" and fact.timestamped_at


async def test_with_the_server_away_signing_fails_loudly(keyring, images, signing_time, tsa):
    url, _ = tsa
    httpx.post(f"{url}/_control", json={"available": False}).raise_for_status()
    try:
        with pytest.raises(TimestampRequestError):
            await sign_as_leader(render_document().pdf, key=keyring.key("chairman"), signature_png=images[0],
                                 signing_time=signing_time, timestamper=HTTPTimeStamper(url + "/"))
    finally:
        httpx.post(f"{url}/_control", json={"available": True}).raise_for_status()
