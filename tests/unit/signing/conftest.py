"""Fixtures for the signing library tests: a real SoftHSM2 token in a temporary directory.

SoftHSM reads SOFTHSM2_CONF once per process, so every test in a pytest process shares one
token directory (the first one set up in the process)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from services.signing.adapters import token_setup
from services.signing.adapters.inspection import TrustSettings
from services.signing.adapters.token import TokenKeyRing
from services.signing.domain.appearance import VN_TZ
from shared import devpki

USER_PIN = token_setup.DEV_USER_PIN
SO_PIN = token_setup.DEV_SO_PIN


@pytest.fixture(scope="session")
def token_env(tmp_path_factory) -> token_setup.TokenSetupResult:
    active = token_setup.active_softhsm_conf()
    directory = active.parent if active is not None else tmp_path_factory.mktemp("signing-token")
    return token_setup.initialise_token(directory, user_pin=USER_PIN, so_pin=SO_PIN)


@pytest.fixture(scope="session")
async def keyring(token_env):
    ring = TokenKeyRing(
        token_label=token_env.token_label,
        user_pin=USER_PIN,
        module_path=token_env.module_path,
        chain=[token_env.ca_cert],
        softhsm_conf=token_env.softhsm_conf,
    )
    await ring.open(["chairman", "agency"])
    yield ring
    await ring.aclose()


@pytest.fixture(scope="session")
def trust(token_env) -> TrustSettings:
    return TrustSettings.of([token_env.ca_cert])


@pytest.fixture(scope="session")
def foreign_signer() -> SimpleSigner:
    """A leader-like key certified by a CA nobody configured (an untrusted issuer)."""
    ca = devpki.make_ca("Rogue CA", "Nobody")
    key = devpki.issue_key(ca, common_name="Lê Văn Minh - Chủ tịch UBND xã Hoằng Đức", organization="Rogue")
    cert = asn1_x509.Certificate.load(key.certificate.public_bytes(Encoding.DER))
    priv = asn1_keys.PrivateKeyInfo.load(
        key.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    )
    ca_cert = asn1_x509.Certificate.load(ca.certificate.public_bytes(Encoding.DER))
    return SimpleSigner(
        signing_cert=cert, signing_key=priv, cert_registry=SimpleCertificateStore.from_certs([ca_cert])
    )


@pytest.fixture
def signing_time() -> dt.datetime:
    return dt.datetime(2026, 3, 5, 9, 15, 30, tzinfo=VN_TZ)


@pytest.fixture(scope="session")
def images(token_env) -> tuple[bytes, bytes]:
    return Path(token_env.signature_image).read_bytes(), Path(token_env.seal_image).read_bytes()
