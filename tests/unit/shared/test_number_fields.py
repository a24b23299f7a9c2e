"""The number and date written into a document after the leader signed (issue 4 point 2,
R-7.2): form filling, a change the leader's signature permits — the signature stays intact,
valid, trusted, at modification level FORM_FILLING; the text is the national format."""

from __future__ import annotations

import datetime as dt
import io

from asn1crypto import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.dispatch.domain.numbering import date_line, number_line
from shared import devpki
from shared.pdfdocs import DATE_FIELD, LEADER_FIELD, NUMBER_FIELD, DocumentText, field_names, fill_fields, render_document


def test_date_line_follows_the_decree():
    assert date_line("Hoằng Đức", dt.date(2026, 2, 5)) == "Hoằng Đức, ngày 05 tháng 02 năm 2026"
    assert date_line("Hoằng Đức", dt.date(2026, 11, 25)) == "Hoằng Đức, ngày 25 tháng 11 năm 2026"
    assert date_line("Hoằng Đức", dt.date(2026, 3, 9)) == "Hoằng Đức, ngày 09 tháng 3 năm 2026"
    assert number_line("15/QĐ-UBND") == "Số: 15/QĐ-UBND"


def test_filling_the_number_after_the_leader_signed_keeps_the_signature(tmp_path):
    doc = render_document(DocumentText(number_notation="Số:      /QĐ-UBND"), number_fields=True).pdf
    assert {NUMBER_FIELD, DATE_FIELD, LEADER_FIELD} <= field_names(doc)
    assert NUMBER_FIELD not in field_names(render_document().pdf)  # only templates that ask for it
    ca = devpki.make_ca("CA thử", "Thử")
    leader = devpki.issue_key(ca, common_name="Lê Văn Minh", organization="UBND xã Hoằng Đức")
    devpki.save(ca, tmp_path, "ca")
    devpki.save(leader, tmp_path, "leader")
    signer = signers.SimpleSigner.load(str(tmp_path / "leader.key.pem"), str(tmp_path / "leader.crt.pem"),
                                       ca_chain_files=(str(tmp_path / "ca.crt.pem"),))
    signed = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(doc)), signers.PdfSignatureMetadata(
        field_name=LEADER_FIELD, subfilter=fields.SigSeedSubFilter.PADES), signer=signer).getvalue()
    filled = fill_fields(signed, {NUMBER_FIELD: "Số: 15/QĐ-UBND", DATE_FIELD: "Hoằng Đức, ngày 25 tháng 11 năm 2026"})
    assert filled.startswith(signed)  # an incremental update: the signed bytes untouched

    reader = PdfFileReader(io.BytesIO(filled))
    root = x509.Certificate.load(ca.certificate.public_bytes(Encoding.DER))
    status = validate_pdf_signature(reader.embedded_signatures[0], ValidationContext(trust_roots=[root]))
    assert status.bottom_line and status.docmdp_ok and status.modification_level.name == "FORM_FILLING"
    values = {str(f.get_object()["/T"]): str(f.get_object().get("/V")) for f in reader.root["/AcroForm"]["/Fields"]}
    assert values[NUMBER_FIELD] == "Số: 15/QĐ-UBND"
