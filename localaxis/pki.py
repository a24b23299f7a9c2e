"""Each simulated agency's own test CA, a leader certificate and an agency certificate, with
CRLs served by the axis (so receivers can check revocation, or find it unreachable). One extra
"rogue" CA that nobody trusts signs the `untrusted_signer` fault."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import SimpleSigner

from shared import devpki

ROGUE = "rogue"


class AxisPki:
    def __init__(self, directory: Path, base_url: str, agencies: list) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.agencies = {a.code: a for a in agencies}
        self._cas: dict[str, devpki.CertifiedKey] = {}
        self._signers: dict[tuple[str, str], SimpleSigner] = {}

    def crl_url(self, code: str) -> str:
        return f"{self.base_url}/pki/{code}/crl"

    def ensure(self) -> None:
        """Creates what is missing. A CA, once made, is kept for good (receivers trust it);
        the leaf certificates are re-issued when the axis's address changes, because their
        CRL distribution points name it."""
        meta_path = self.directory / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("base_url") != self.base_url:
            meta = {"base_url": self.base_url, "agencies": []}
        for code, agency in [*self.agencies.items(), (ROGUE, None)]:
            folder = self.directory / code
            if code in meta["agencies"] and (folder / "agency.crt.pem").exists():
                continue
            organization = agency.name if agency else "Tổ chức không tin cậy"
            if (folder / "ca.crt.pem").exists() and (folder / "ca.key.pem").exists():
                ca = self._load(folder, "ca")
            else:
                ca = devpki.make_ca(f"CA thử nghiệm - {organization}", organization)
                devpki.save(ca, folder, "ca")
            leader_name = f"{agency.leader} - {agency.leader_position}" if agency else "Người ký không tin cậy"
            self._issue(ca, folder, "leader", leader_name, organization, code)
            self._issue(ca, folder, "agency", organization, organization, code)
            if not (folder / "revoked.json").exists():
                (folder / "revoked.json").write_text("[]")
            meta["agencies"].append(code)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta))
        roots = b"".join(self.ca_pem(code) for code in self.agencies)
        (self.directory / "trust-roots.pem").write_bytes(roots)

    def _issue(self, ca: devpki.CertifiedKey, folder: Path, role: str, common_name: str, organization: str, code: str) -> None:
        key_path = folder / f"{role}.key.pem"
        if key_path.exists():  # keep the key (RSA generation is slow), re-certify it
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
            cert = devpki.issue_certificate(ca, key.public_key(), common_name=common_name, organization=organization,
                                            crl_url=self.crl_url(code))
            certified = devpki.CertifiedKey(cert, key)
        else:
            certified = devpki.issue_key(ca, common_name=common_name, organization=organization, crl_url=self.crl_url(code))
        devpki.save(certified, folder, role)

    def ca_pem(self, code: str) -> bytes:
        return (self.directory / code / "ca.crt.pem").read_bytes()

    @staticmethod
    def _load(folder: Path, stem: str) -> devpki.CertifiedKey:
        # Our own keys: skip cryptography's RSA consistency check (a quarter second per key).
        key = serialization.load_pem_private_key((folder / f"{stem}.key.pem").read_bytes(), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
        return devpki.CertifiedKey(x509.load_pem_x509_certificate((folder / f"{stem}.crt.pem").read_bytes()), key)

    def crl_der(self, code: str) -> bytes:
        folder = self.directory / code
        ca = self._cas.get(code) or self._cas.setdefault(code, self._load(folder, "ca"))
        revoked = json.loads((folder / "revoked.json").read_text())
        return devpki.make_crl(ca, revoked).public_bytes(Encoding.DER)

    def revoke(self, code: str, role: str) -> int:
        folder = self.directory / code
        serial = x509.load_pem_x509_certificate((folder / f"{role}.crt.pem").read_bytes()).serial_number
        revoked = set(json.loads((folder / "revoked.json").read_text())) | {serial}
        (folder / "revoked.json").write_text(json.dumps(sorted(revoked)))
        return serial

    def signer(self, code: str, role: str) -> SimpleSigner:
        # cached: loading checks the RSA key, which costs more than signing
        if (code, role) not in self._signers:
            self._signers[(code, role)] = self._load_signer(code, role)
        return self._signers[(code, role)]

    def _load_signer(self, code: str, role: str) -> SimpleSigner:
        folder = self.directory / code
        return SimpleSigner.load(str(folder / f"{role}.key.pem"), str(folder / f"{role}.crt.pem"),
                                 ca_chain_files=(str(folder / "ca.crt.pem"),))
