"""Development token set-up: SoftHSM2 token, keys generated on it, dev CA certificates.

    python -m services.signing.adapters.token_setup --config-dir DIR

creates (idempotently) under DIR:
    softhsm2.conf, tokens/          SoftHSM2 configuration and token store
    pki/ca.crt.pem, pki/ca.key.pem  development CA (its key in a file: DEV ONLY)
    pki/agency.crt.pem, pki/chairman.crt.pem
    images/chairman-signature.png, images/agency-seal.png  synthetic stand-ins for real scans

and on the token labelled `vanthu` two RSA-2048 key pairs generated ON the token (sensitive,
never extractable) with labels `agency` (the commune, 000.24.26.H56) and `chairman`, each with
its certificate stored under the same label and ID. A token that already holds both keys and
both certificates is left untouched.

PINs: function arguments, else env TOKEN_PIN / TOKEN_SO_PIN, else development defaults. They
are never logged or printed, and never passed on a command line (the token is initialised
through the PKCS#11 API, not with `softhsm2-util --pin`).

Every process that opens the token must have SOFTHSM2_CONF=DIR/softhsm2.conf in its
environment before the PKCS#11 module is loaded; `activate_softhsm_conf` does that here.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass, TokenFlag
from pkcs11.util.x509 import decode_x509_certificate

from services.signing.adapters.synthetic_images import write_images
from services.signing.adapters.token import (
    DEFAULT_MODULE,
    module_lock,
    open_user_session,
)
from shared import devpki

log = logging.getLogger(__name__)

DEFAULT_TOKEN_LABEL = "vanthu"
DEV_USER_PIN = "246810"  # development defaults only; production PINs come from the environment
DEV_SO_PIN = "13579135"
AGENCY_NAME = "UBND xã Hoằng Đức"
AGENCY_ID = "000.24.26.H56"
AGENCY_ORG = f"{AGENCY_NAME} ({AGENCY_ID})"


@dataclass(frozen=True)
class KeyIdentity:
    label: str
    common_name: str
    organization: str = AGENCY_ORG


AGENCY_KEY = KeyIdentity("agency", AGENCY_NAME)
CHAIRMAN_KEY = KeyIdentity("chairman", f"Lê Văn Minh - Chủ tịch {AGENCY_NAME}")
DEFAULT_IDENTITIES = (AGENCY_KEY, CHAIRMAN_KEY)


@dataclass(frozen=True)
class TokenSetupResult:
    config_dir: Path
    softhsm_conf: Path
    module_path: str
    token_label: str
    ca_cert: Path
    certs: dict[str, Path]  # key label -> PEM of its certificate
    signature_image: Path
    seal_image: Path
    created: list[str] = field(default_factory=list)  # what this run made; empty if nothing

    @property
    def changed(self) -> bool:
        return bool(self.created)


class TokenSetupError(RuntimeError):
    pass


# --- SoftHSM2 configuration -------------------------------------------------------------------

_active_conf: Path | None = None


def active_softhsm_conf() -> Path | None:
    """The SoftHSM2 configuration this process was pointed at by `activate_softhsm_conf`."""
    return _active_conf


def write_softhsm_conf(config_dir: Path) -> Path:
    config_dir = Path(config_dir).resolve()
    tokens = config_dir / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    tokens.chmod(0o700)
    conf = config_dir / "softhsm2.conf"
    text = (
        "# SoftHSM2 configuration written by services.signing.adapters.token_setup\n"
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    return conf


def activate_softhsm_conf(conf: Path, module_path: str = DEFAULT_MODULE) -> None:
    """Point SOFTHSM2_CONF at `conf`. SoftHSM reads it once, when the module is initialised in
    this process, so switching to another configuration afterwards is refused."""
    global _active_conf
    conf = Path(conf).resolve()
    if module_path in pkcs11._loaded:  # type: ignore[attr-defined]
        current = _active_conf or Path(os.environ.get("SOFTHSM2_CONF", "")).resolve()
        if current != conf:
            raise TokenSetupError(
                f"the PKCS#11 module is already loaded with SOFTHSM2_CONF={current}; "
                f"run the set-up for {conf} in a fresh process"
            )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    _active_conf = conf


# --- PKCS#11 helpers ------------------------------------------------------------------------


def _init_token_via_api(module_path: str, slot_id: int, so_pin: str, label: str) -> None:
    """C_InitToken through the module's C API: python-pkcs11 does not wrap it, and
    `softhsm2-util --so-pin` would expose the PIN in the process list."""
    lib = ctypes.CDLL(module_path)  # same handle as python-pkcs11's, already C_Initialize'd
    lib.C_InitToken.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    lib.C_InitToken.restype = ctypes.c_ulong
    pin = so_pin.encode()
    padded = label.encode()[:32].ljust(32, b" ")
    rv = lib.C_InitToken(slot_id, pin, len(pin), padded)
    if rv != 0:
        raise TokenSetupError(f"C_InitToken failed with CKR 0x{rv:08x}")


def find_token(lib, label: str):
    """The token with this label, or None. Selected by label: slots renumber after init."""
    for slot in lib.get_slots(token_present=True):
        token = slot.get_token()
        if token.label == label and TokenFlag.TOKEN_INITIALIZED in token.flags:
            return token
    return None


def _public_key_of(pub_obj) -> rsa.RSAPublicKey:
    n = int.from_bytes(pub_obj[Attribute.MODULUS], "big")
    e = int.from_bytes(pub_obj[Attribute.PUBLIC_EXPONENT], "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def key_id_for(public_key: rsa.RSAPublicKey) -> bytes:
    """CKA_ID = SHA-1 of the public key, the same value as the certificate's SKI (the usual
    convention of PKCS#11 tools, so key and certificate pair up)."""
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def generate_key_pair(session, label: str) -> bytes:
    """RSA-2048 generated on the token; the private key is sensitive and never extractable."""
    tmp_id = hashlib.sha1(os.urandom(16)).digest()
    pub, priv = session.generate_keypair(
        KeyType.RSA,
        2048,
        id=tmp_id,
        label=label,
        store=True,
        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
        public_template={
            Attribute.TOKEN: True,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
        },
        private_template={
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        },
    )
    key_id = key_id_for(_public_key_of(pub))
    pub[Attribute.ID] = key_id
    priv[Attribute.ID] = key_id
    return key_id


def store_certificate(session, label: str, key_id: bytes, cert: x509.Certificate) -> None:
    template = decode_x509_certificate(cert.public_bytes(serialization.Encoding.DER))
    template.update({Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.ID: key_id})
    session.create_object(template)


def read_certificate(session, label: str) -> x509.Certificate | None:
    found = _objects(session, ObjectClass.CERTIFICATE, label)
    if len(found) > 1:
        raise TokenSetupError(f"more than one certificate labelled {label!r}")
    return x509.load_der_x509_certificate(found[0][Attribute.VALUE]) if found else None


def _objects(session, cls: ObjectClass, label: str) -> list:
    return list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label}))


# --- the set-up -------------------------------------------------------------------------------


def resolve_pins(user_pin: str | None, so_pin: str | None) -> tuple[str, str]:
    user = user_pin or os.environ.get("TOKEN_PIN") or DEV_USER_PIN
    so = so_pin or os.environ.get("TOKEN_SO_PIN") or DEV_SO_PIN
    return user, so


def initialise_token(
    config_dir: Path | str,
    *,
    user_pin: str | None = None,
    so_pin: str | None = None,
    token_label: str = DEFAULT_TOKEN_LABEL,
    module_path: str = DEFAULT_MODULE,
    identities: tuple[KeyIdentity, ...] = DEFAULT_IDENTITIES,
) -> TokenSetupResult:
    """Idempotent development set-up (see the module docstring). Safe while a TokenKeyRing of
    this process is open: it shares the module lock and the token's login."""
    config_dir = Path(config_dir).resolve()
    user_pin, so_pin = resolve_pins(user_pin, so_pin)
    conf = write_softhsm_conf(config_dir)
    activate_softhsm_conf(conf, module_path)
    pki = config_dir / "pki"

    # Serialise with any TokenKeyRing of this process (the module runs without locking).
    with module_lock(module_path):
        created, certs = _setup_token(pki, user_pin, so_pin, token_label, module_path, identities)

    ca_cert = pki / "ca.crt.pem"
    if not ca_cert.exists():
        raise TokenSetupError(f"{ca_cert} is missing: the certificates on the token cannot be chained")
    images = config_dir / "images"
    had_images = (images / "chairman-signature.png").exists() and (images / "agency-seal.png").exists()
    signature, seal = write_images(images)
    if not had_images:
        created.append("images")
    return TokenSetupResult(
        config_dir=config_dir,
        softhsm_conf=conf,
        module_path=module_path,
        token_label=token_label,
        ca_cert=ca_cert,
        certs=certs,
        signature_image=signature,
        seal_image=seal,
        created=created,
    )


def _setup_token(
    pki: Path,
    user_pin: str,
    so_pin: str,
    token_label: str,
    module_path: str,
    identities: tuple[KeyIdentity, ...],
) -> tuple[list[str], dict[str, Path]]:
    created: list[str] = []
    lib = pkcs11.lib(module_path)
    token = find_token(lib, token_label)
    if token is None:
        free = next(
            (s for s in lib.get_slots(token_present=True)
             if TokenFlag.TOKEN_INITIALIZED not in s.get_token().flags),
            None,
        )
        if free is None:
            raise TokenSetupError("no free SoftHSM slot to initialise")
        _init_token_via_api(module_path, free.slot_id, so_pin, token_label)
        token = find_token(lib, token_label)
        if token is None:
            raise TokenSetupError(f"token {token_label!r} not found after initialisation")
        with token.open(rw=True, so_pin=so_pin) as so_session:
            so_session.init_pin(user_pin)
        created.append(f"token {token_label}")
        log.info("initialised token %s", token_label)

    certs: dict[str, Path] = {}
    ca: devpki.CertifiedKey | None = None
    session, _ = open_user_session(module_path, token, user_pin, rw=True)
    with session:
        for ident in identities:
            privs = _objects(session, ObjectClass.PRIVATE_KEY, ident.label)
            pubs = _objects(session, ObjectClass.PUBLIC_KEY, ident.label)
            if len(privs) > 1 or len(pubs) > 1:
                raise TokenSetupError(f"several keys labelled {ident.label!r} on the token")
            if not privs:
                if pubs:
                    raise TokenSetupError(f"public key {ident.label!r} without its private key")
                generate_key_pair(session, ident.label)
                created.append(f"key {ident.label}")
                log.info("generated key pair %s on token %s", ident.label, token_label)
                pubs = _objects(session, ObjectClass.PUBLIC_KEY, ident.label)
            key_id = bytes(pubs[0][Attribute.ID])
            cert = read_certificate(session, ident.label)
            if cert is None:
                ca = ca or _load_or_make_ca(pki, created)
                cert = devpki.issue_certificate(
                    ca,
                    _public_key_of(pubs[0]),
                    common_name=ident.common_name,
                    organization=ident.organization,
                    valid_days=3 * 365,
                )
                store_certificate(session, ident.label, key_id, cert)
                created.append(f"certificate {ident.label}")
                log.info("stored certificate for %s on token %s", ident.label, token_label)
            certs[ident.label] = _write_if_changed(
                pki / f"{ident.label}.crt.pem", devpki.cert_pem(cert)
            )

    return created, certs


def _load_or_make_ca(pki: Path, created: list[str]) -> devpki.CertifiedKey:
    if (pki / "ca.crt.pem").exists() and (pki / "ca.key.pem").exists():
        return devpki.load(pki, "ca")
    ca = devpki.make_ca(f"vanthu Dev CA - {AGENCY_NAME}", "vanthu (development only)")
    devpki.save(ca, pki, "ca")
    created.append("dev CA")
    return ca


def _write_if_changed(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.signing.adapters.token_setup",
        description="Create the development SoftHSM2 token, keys, certificates and images "
        "(idempotent). PINs come from TOKEN_PIN / TOKEN_SO_PIN (development defaults otherwise).",
    )
    parser.add_argument("--config-dir", required=True, type=Path)
    parser.add_argument("--token-label", default=DEFAULT_TOKEN_LABEL)
    parser.add_argument("--module", default=DEFAULT_MODULE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = initialise_token(args.config_dir, token_label=args.token_label, module_path=args.module)
    state = "created: " + ", ".join(result.created) if result.created else "already initialised, nothing changed"
    print(f"token {result.token_label}: {state}")
    print(f"SOFTHSM2_CONF={result.softhsm_conf}")
    print(f"PKCS11_MODULE={result.module_path}")
    print(f"CA certificate: {result.ca_cert}")
    for label, path in result.certs.items():
        print(f"certificate {label}: {path}")
    print(f"signature image: {result.signature_image}")
    print(f"seal image: {result.seal_image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
