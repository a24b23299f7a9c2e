"""The SoftHSM2 token: idempotent set-up, keys that never leave it, one session per key,
serialised requests, reopening after a reset."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e

from services.signing.adapters import token_setup
from services.signing.adapters.inspection import inspect_signatures
from services.signing.adapters.pades import sign_pdf
from shared.pdfdocs import LEADER_FIELD, render_document

from .conftest import SO_PIN, USER_PIN

pytestmark = pytest.mark.token
REPO = Path(__file__).resolve().parents[3]


def _list_public_objects(conf: Path) -> str:
    """Certificates and public keys as pkcs11-tool (OpenSC, independent of our code) sees them."""
    out = subprocess.run(
        ["pkcs11-tool", "--module", token_setup.DEFAULT_MODULE, "--token-label", "vanthu", "--list-objects"],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_setup_command_is_idempotent(tmp_path):
    env = {**os.environ, "TOKEN_PIN": "pin-7391-secret", "TOKEN_SO_PIN": "so-pin-8513-secret"}
    env.pop("SOFTHSM2_CONF", None)
    cmd = [sys.executable, "-m", "services.signing.adapters.token_setup", "--config-dir", str(tmp_path)]

    first = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert "created: token vanthu" in first.stdout
    certs_before = {p.name: p.read_bytes() for p in (tmp_path / "pki").glob("*.pem")}
    objects_before = _list_public_objects(tmp_path / "softhsm2.conf")
    assert objects_before.count("Certificate Object") == 2
    assert objects_before.count("Public Key Object") == 2

    second = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert "already initialised, nothing changed" in second.stdout
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").glob("*.pem")} == certs_before
    assert _list_public_objects(tmp_path / "softhsm2.conf") == objects_before

    for run in (first, second):
        assert "pin-7391-secret" not in run.stdout + run.stderr
        assert "so-pin-8513-secret" not in run.stdout + run.stderr
    for name in ("softhsm2.conf", "images/chairman-signature.png", "images/agency-seal.png",
                 "pki/ca.crt.pem", "pki/agency.crt.pem", "pki/chairman.crt.pem"):
        assert (tmp_path / name).is_file(), name


async def test_setup_again_in_process_changes_nothing(token_env, keyring, trust):
    before = {label: path.read_bytes() for label, path in token_env.certs.items()}
    again = token_setup.initialise_token(token_env.config_dir, user_pin=USER_PIN, so_pin=SO_PIN)
    assert again.created == []
    assert {label: path.read_bytes() for label, path in again.certs.items()} == before
    # ... and it did not log out the open key ring (login is shared by the process's sessions)
    reopened = keyring.key("chairman").stats.reopened
    signed = await sign_pdf(render_document().pdf, signer=keyring.key("chairman"), field_name=LEADER_FIELD)
    assert keyring.key("chairman").stats.reopened == reopened
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound


def test_switching_softhsm_config_in_process_is_refused(token_env, tmp_path):
    with pytest.raises(token_setup.TokenSetupError):
        token_setup.initialise_token(tmp_path, user_pin=USER_PIN, so_pin=SO_PIN)


@pytest.mark.parametrize("label", ["agency", "chairman"])
async def test_private_keys_cannot_be_extracted(keyring, label):
    def probe(session, key):
        attrs = {
            name: key[getattr(Attribute, name)]
            for name in ("SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LOCAL")
        }
        with pytest.raises(p11e.AttributeSensitive):
            key[Attribute.PRIVATE_EXPONENT]
        with pytest.raises(p11e.AttributeSensitive):
            key[Attribute.PRIME_1]
        # Wrapping (the export path of a token) is refused too.
        wrapping = session.generate_key(
            KeyType.AES, 256, store=False, capabilities=MechanismFlag.WRAP | MechanismFlag.ENCRYPT
        )
        with pytest.raises((p11e.KeyUnextractable, p11e.KeyNotWrappable, p11e.MechanismInvalid)):
            wrapping.wrap_key(key, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD)
        return attrs

    attrs = await keyring.key(label).with_session(probe)
    # LOCAL: generated on the token; never sensitive-cleared, never extractable.
    assert attrs == {
        "SENSITIVE": True,
        "EXTRACTABLE": False,
        "ALWAYS_SENSITIVE": True,
        "NEVER_EXTRACTABLE": True,
        "LOCAL": True,
    }


def test_independent_client_sees_keys_as_never_extractable(token_env):
    """OpenSC's pkcs11-tool, logged in with the PIN, reports both private keys as generated on
    the token and never extractable (a check that does not go through our code)."""
    result = subprocess.run(
        ["pkcs11-tool", "--module", token_env.module_path, "--token-label", token_env.token_label,
         "--login", "--pin", USER_PIN, "--list-objects", "--type", "privkey"],
        env={**os.environ, "SOFTHSM2_CONF": str(token_env.softhsm_conf)},
        capture_output=True,
        text=True,
        check=True,
    )
    blocks = result.stdout.split("Private Key Object")[1:]
    assert sorted(b.split("label:")[1].split()[0] for b in blocks) == ["agency", "chairman"]
    for block in blocks:
        assert "sensitive, always sensitive, never extractable, local" in block


def test_pin_is_not_in_repr(keyring):
    assert USER_PIN not in repr(keyring)
    assert USER_PIN not in repr(keyring.key("agency"))


async def _sign_leader(keyring, pdf: bytes) -> bytes:
    return await sign_pdf(pdf, signer=keyring.key("chairman"), field_name=LEADER_FIELD)


async def test_concurrent_requests_for_one_key_are_serialised(keyring, trust):
    key = keyring.key("chairman")
    docs = [render_document().pdf for _ in range(8)]
    jobs_before = key.stats.jobs
    sessions_seen: set[int] = set()

    def note_session(signer):
        sessions_seen.add(id(signer.pkcs11_session))

    results = await asyncio.gather(
        *(_sign_leader(keyring, pdf) for pdf in docs),
        *(key.run(note_session) for _ in range(4)),
    )
    signed = results[:8]
    assert key.stats.jobs - jobs_before == 12
    assert key.stats.max_in_flight == 1  # never two requests on the key at once
    assert len(sessions_seen) == 1  # one long-lived session for the key
    for pdf in signed:
        (facts,) = await inspect_signatures(pdf, trust)
        assert facts.sound, facts.problem


async def test_session_reopened_after_token_reset(keyring, trust):
    key = keyring.key("agency")
    await sign_pdf(render_document().pdf, signer=key)  # session is open and used
    reopened = key.stats.reopened
    lib = pkcs11.lib(keyring.module_path)
    with keyring.lock:
        lib.reinitialize()  # as if the token had been pulled out and put back: all sessions gone

    signed = await sign_pdf(render_document().pdf, signer=key)
    assert key.stats.reopened == reopened + 1
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound and facts.signer_cn == "UBND xã Hoằng Đức"
    # the other key of the ring recovers as well
    chairman = keyring.key("chairman")
    chairman_reopened = chairman.stats.reopened
    signed = await _sign_leader(keyring, render_document().pdf)
    assert chairman.stats.reopened == chairman_reopened + 1
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound


async def test_answer_from_the_wrong_key_is_caught_and_retried(keyring):
    """A stale object handle after a reset could point at another key: the raw signature is
    checked against the certificate, and the request is retried on a fresh session."""
    key = keyring.key("chairman")
    reopened = key.stats.reopened
    signers = []

    def job(signer):
        if not signers:  # first attempt: the handle now points at the agency key
            with keyring.lock:
                signer._key_handle = signer.pkcs11_session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, label="agency"
                )
        signers.append(signer)
        return asyncio.run(signer.async_sign_raw(b"payload", "sha256"))

    agency = keyring.key("agency")
    agency_reopened = agency.stats.reopened
    signature = await key.run(job)
    assert key.stats.reopened == reopened + 1
    assert len(signers) == 2 and signers[0] is not signers[1]
    public = load_der_public_key(key.certificate.public_key.dump())
    public.verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())  # raises if wrong
    # Reopening one key's session did not log the other key out.
    await sign_pdf(render_document().pdf, signer=agency)
    assert agency.stats.reopened == agency_reopened


def test_wrong_pin_is_refused_without_showing_it(token_env):
    script = (
        "import asyncio\n"
        "from services.signing.adapters.token import TokenKeyRing, TokenError\n"
        "async def main():\n"
        f"    ring = TokenKeyRing(token_label='vanthu', user_pin='999-wrong-999', softhsm_conf='{token_env.softhsm_conf}')\n"
        "    try:\n"
        "        await ring.open(['agency'])\n"
        "    except TokenError as exc:\n"
        "        print('refused:', exc, repr(exc.__cause__), repr(exc.__context__))\n"
        "    finally:\n"
        "        await ring.aclose()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert "refused: token 'vanthu' refused the PIN (PinIncorrect)" in out.stdout
    assert "999-wrong-999" not in out.stdout + out.stderr
