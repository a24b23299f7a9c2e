"""Each simulated agency's own test CA, a leader certificate and an agency certificate, with
CRLs served by the axis (so receivers can check revocation, or find it unreachable). One extra
"rogue" CA that nobody trusts signs the `untrusted_signer` fault."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import SimpleSigner

from shared import devpki

ROGUE = "rogue"


class AxisPki:
    def __init__(self, directory: Path, base_url: str, agencies: list) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.agencies = {a.code: a for a in agencies}

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
                ca = devpki.load(folder, "ca")
            else:
                ca = devpki.make_ca(f"CA thử nghiệm - {organization}", organization)
                devpki.save(ca, folder, "ca")
            leader_name = f"{agency.leader} - {agency.leader_position}" if agency else "Người ký không tin cậy"
            devpki.save(devpki.issue_key(ca, common_name=leader_name, organization=organization, crl_url=self.crl_url(code)),
                        folder, "leader")
            devpki.save(devpki.issue_key(ca, common_name=organization, organization=organization, crl_url=self.crl_url(code)),
                        folder, "agency")
            if not (folder / "revoked.json").exists():
                (folder / "revoked.json").write_text("[]")
            meta["agencies"].append(code)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta))
        roots = b"".join(devpki.load(self.directory / code, "ca").certificate.public_bytes(Encoding.PEM) for code in self.agencies)
        (self.directory / "trust-roots.pem").write_bytes(roots)

    def ca_pem(self, code: str) -> bytes:
        return (self.directory / code / "ca.crt.pem").read_bytes()

    def crl_der(self, code: str) -> bytes:
        folder = self.directory / code
        ca = devpki.load(folder, "ca")
        revoked = json.loads((folder / "revoked.json").read_text())
        return devpki.make_crl(ca, revoked).public_bytes(Encoding.DER)

    def revoke(self, code: str, role: str) -> int:
        folder = self.directory / code
        serial = devpki.load(folder, role).certificate.serial_number
        revoked = set(json.loads((folder / "revoked.json").read_text())) | {serial}
        (folder / "revoked.json").write_text(json.dumps(sorted(revoked)))
        return serial

    def signer(self, code: str, role: str) -> SimpleSigner:
        folder = self.directory / code
        return SimpleSigner.load(str(folder / f"{role}.key.pem"), str(folder / f"{role}.crt.pem"),
                                 ca_chain_files=(str(folder / "ca.crt.pem"),))
