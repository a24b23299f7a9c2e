"""Development PKI: a CA and end-entity certificates made with `cryptography`.

Used by the token set-up (the commune's dev CA certifies keys generated *on* the token) and
by the local axis (each simulated agency has its own CA and keys). Production certificates come
from a licensed Vietnamese CA; nothing here is used on that path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.timezone.utc


@dataclass(frozen=True)
class CertifiedKey:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey


def _name(common_name: str, organization: str, country: str = "VN") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_ca(
    common_name: str,
    organization: str,
    *,
    valid_days: int = 3650,
    not_before: dt.datetime | None = None,
) -> CertifiedKey:
    key = new_rsa_key(3072)
    start = not_before or (dt.datetime.now(UTC) - dt.timedelta(days=1))
    name = _name(common_name, organization)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(cert, key)


def issue_certificate(
    ca: CertifiedKey,
    public_key: CertificatePublicKeyTypes,
    *,
    common_name: str,
    organization: str,
    valid_days: int = 730,
    not_before: dt.datetime | None = None,
    non_repudiation: bool = True,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    serial_number: int | None = None,
) -> x509.Certificate:
    """A signing certificate for a person or an agency (key usage: digitalSignature,
    nonRepudiation — Vietnamese signing certificates carry both)."""
    start = not_before or (dt.datetime.now(UTC) - dt.timedelta(hours=1))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),
            critical=False,
        )
    )
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]
            ),
            critical=False,
        )
    return builder.sign(ca.private_key, hashes.SHA256())


def issue_tsa_key(ca: CertifiedKey, *, common_name: str, organization: str, valid_days: int = 1825) -> CertifiedKey:
    """A time-stamping authority's key (RFC 3161 §2.3: extended key usage timeStamping only, critical)."""
    key = new_rsa_key()
    start = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )
    return CertifiedKey(cert, key)


def issue_key(ca: CertifiedKey, **kwargs) -> CertifiedKey:
    """A fresh in-memory key with a certificate (simulated agencies, tests)."""
    key = new_rsa_key()
    return CertifiedKey(issue_certificate(ca, key.public_key(), **kwargs), key)


def make_crl(
    ca: CertifiedKey,
    revoked_serials: list[int] = (),
    *,
    next_update_in: dt.timedelta = dt.timedelta(days=7),
) -> x509.CertificateRevocationList:
    now = dt.datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + next_update_in)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),
            critical=False,
        )
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - dt.timedelta(minutes=10)).build()
        )
    return builder.sign(ca.private_key, hashes.SHA256())


# --- PEM files --------------------------------------------------------------------------


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def save(certified: CertifiedKey, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{stem}.crt.pem"
    key_path = directory / f"{stem}.key.pem"
    cert_path.write_bytes(cert_pem(certified.certificate))
    key_path.write_bytes(key_pem(certified.private_key))
    key_path.chmod(0o600)
    return cert_path, key_path


def load(directory: Path, stem: str) -> CertifiedKey:
    cert = x509.load_pem_x509_certificate((directory / f"{stem}.crt.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / f"{stem}.key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return CertifiedKey(cert, key)


def load_certificates(paths: list[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in paths:
        certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return certs
