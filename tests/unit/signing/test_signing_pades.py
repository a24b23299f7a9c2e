"""PAdES signatures on the real token, validated with pyHanko against the dev CA (and Poppler's
pdfsig as an independent reader); R-8.3c on real PDFs."""

from __future__ import annotations

import io
import subprocess

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature

from services.signing.adapters.flows import (
    AGENCY_FIELD,
    AgencySignatureRefused,
    sign_annex,
    sign_as_agency,
    sign_as_leader,
    sign_digitised,
)
from services.signing.adapters.inspection import inspect_signatures
from services.signing.adapters.pades import SignatureFieldError, find_signature_field, sign_pdf
from services.signing.domain.placement import A4, Box, Margins
from services.signing.domain.rules import RefusalCode
from shared.pdfdocs import LEADER_FIELD, DocumentText, render_document

pytestmark = pytest.mark.token
AGENCY_NAME = "UBND xã Hoằng Đức"


@pytest.fixture
def document() -> bytes:
    return render_document().pdf


async def _leader(keyring, images, pdf, signing_time):
    return await sign_as_leader(
        pdf, key=keyring.key("chairman"), signature_png=images[0], reason="Ký ban hành",
        location="Hoằng Đức", signing_time=signing_time,
    )


async def _agency(keyring, images, trust, pdf, signing_time):
    return await sign_as_agency(
        pdf, key=keyring.key("agency"), trust=trust, agency_name=AGENCY_NAME, seal_png=images[1],
        signing_time=signing_time,
    )


async def test_chairman_then_agency_gives_two_valid_signatures_in_order(
    keyring, trust, images, document, signing_time, tmp_path
):
    leader_signed = await _leader(keyring, images, document, signing_time)
    both = await _agency(keyring, images, trust, leader_signed, signing_time)

    assert both.startswith(leader_signed)  # incremental update: the leader's bytes untouched
    facts = await inspect_signatures(both, trust)
    assert [f.field_name for f in facts] == [LEADER_FIELD, AGENCY_FIELD]
    assert [f.signer_cn for f in facts] == ["Lê Văn Minh - Chủ tịch UBND xã Hoằng Đức", AGENCY_NAME]
    assert facts[0].revision < facts[1].revision
    for f in facts:
        assert f.sound, f.problem  # intact, valid, trusted, coverage, later changes allowed

    # Straight pyHanko validation against the dev CA: bottom line for both, the first one
    # still intact and only extended by the second signature.
    reader = PdfFileReader(io.BytesIO(both))
    statuses = [await async_validate_pdf_signature(s, trust.validation_context()) for s in reader.embedded_signatures]
    assert all(s.bottom_line for s in statuses)
    assert statuses[0].intact and statuses[0].coverage.name == "ENTIRE_REVISION"
    assert statuses[1].coverage.name == "ENTIRE_FILE"

    # Poppler agrees, independently of pyHanko.
    path = tmp_path / "signed.pdf"
    path.write_bytes(both)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=True).stdout
    assert out.count("Signature is Valid.") == 2


async def test_signing_time_is_written_in_the_signature(keyring, images, document, signing_time):
    signed = await _leader(keyring, images, document, signing_time)
    (emb,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert emb.self_reported_timestamp == signing_time


async def test_agency_refused_without_leader_signature(keyring, trust, images, document, signing_time):
    with pytest.raises(AgencySignatureRefused) as refused:
        await _agency(keyring, images, trust, document, signing_time)
    decision = refused.value.decision
    assert decision.code is RefusalCode.NO_SIGNATURE
    assert "chưa có chữ ký số" in decision.reason_vi and "R-8.3c" in decision.reason_en


async def test_agency_refused_over_leader_signature_by_untrusted_key(
    keyring, trust, images, document, foreign_signer, signing_time
):
    rogue = await sign_pdf(document, signer=foreign_signer, field_name=LEADER_FIELD, signing_time=signing_time)
    (facts,) = await inspect_signatures(rogue, trust)
    assert facts.intact and facts.valid and not facts.trusted
    with pytest.raises(AgencySignatureRefused) as refused:
        await _agency(keyring, images, trust, rogue, signing_time)
    assert refused.value.decision.code is RefusalCode.LEADER_NOT_TRUSTED


async def test_agency_refused_when_page_changed_after_leader_signed(
    keyring, trust, images, document, signing_time
):
    signed = await _leader(keyring, images, document, signing_time)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    extra = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 100 Td (KHONG HOP LE) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(extra))
    out = io.BytesIO()
    writer.write(out)
    tampered = out.getvalue()

    (facts,) = await inspect_signatures(tampered, trust)
    assert facts.intact and not facts.later_changes_ok
    with pytest.raises(AgencySignatureRefused) as refused:
        await _agency(keyring, images, trust, tampered, signing_time)
    assert refused.value.decision.code is RefusalCode.DOCUMENT_CHANGED_AFTER_LEADER


async def test_agency_refused_when_signed_bytes_altered(keyring, trust, images, document, signing_time):
    signed = await _leader(keyring, images, document, signing_time)
    at = signed.index(b"/Creator (vanthu)")
    tampered = signed[:at] + b"/Creator (vanthx)" + signed[at + len(b"/Creator (vanthu)"):]

    (facts,) = await inspect_signatures(tampered, trust)
    assert not facts.intact
    with pytest.raises(AgencySignatureRefused) as refused:
        await _agency(keyring, images, trust, tampered, signing_time)
    assert refused.value.decision.code is RefusalCode.LEADER_SIGNATURE_BROKEN


async def test_agency_key_in_leader_field_does_not_count(keyring, trust, images, document, signing_time):
    self_signed = await sign_pdf(document, signer=keyring.key("agency"), field_name=LEADER_FIELD)
    with pytest.raises(AgencySignatureRefused) as refused:
        await _agency(keyring, images, trust, self_signed, signing_time)
    assert refused.value.decision.code is RefusalCode.ONLY_AGENCY_SIGNATURE


async def test_only_configured_leaders_count(keyring, trust, images, document, signing_time):
    signed = await _leader(keyring, images, document, signing_time)
    with pytest.raises(AgencySignatureRefused) as refused:
        await sign_as_agency(
            signed, key=keyring.key("agency"), trust=trust, agency_name=AGENCY_NAME,
            seal_png=images[1], leader_key_ids=["00" * 32],
        )
    assert refused.value.decision.code is RefusalCode.LEADER_NOT_AUTHORISED
    ok = await sign_as_agency(
        signed, key=keyring.key("agency"), trust=trust, agency_name=AGENCY_NAME,
        seal_png=images[1], leader_key_ids=[keyring.key("chairman").key_id],
    )
    assert len(await inspect_signatures(ok, trust)) == 2


async def test_a_signed_field_is_not_signed_again(keyring, images, document, signing_time):
    signed = await _leader(keyring, images, document, signing_time)
    with pytest.raises(SignatureFieldError):
        await sign_pdf(signed, signer=keyring.key("chairman"), field_name=LEADER_FIELD)


async def test_annex_signed_top_right_text_only(keyring, trust, signing_time):
    annex = render_document().pdf
    signed = await sign_annex(annex, key=keyring.key("agency"), number_notation="12/QĐ-UBND",
                              signing_time=signing_time)
    field = find_signature_field(signed, AGENCY_FIELD)
    margins = Margins()
    assert field.page == 0
    assert field.box.x2 == pytest.approx(A4.width - margins.right, abs=0.5)
    assert field.box.y2 == pytest.approx(A4.height - margins.top, abs=0.5)
    assert field.box.height < 30  # two 10 pt lines, no seal image
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound and facts.signer_cn == AGENCY_NAME


async def test_digitised_document_signed_top_left_with_seal(keyring, trust, images, signing_time):
    scan = render_document().pdf
    signed = await sign_digitised(scan, key=keyring.key("agency"), agency_name=AGENCY_NAME,
                                  seal_png=images[1], signing_time=signing_time)
    field = find_signature_field(signed, AGENCY_FIELD)
    assert field.box.x1 == pytest.approx(Margins().left, abs=0.5)
    assert field.box.width >= 99  # the seal at real size, 35 mm
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound


async def test_too_small_reservation_falls_back_to_estimate(keyring, trust, document):
    signed = await sign_pdf(document, signer=keyring.key("chairman"), field_name=LEADER_FIELD,
                            bytes_reserved=512)
    (facts,) = await inspect_signatures(signed, trust)
    assert facts.sound



async def test_seal_follows_the_leader_field_to_a_later_page(keyring, trust, images, signing_time):
    text = DocumentText(body=[f"Điều {i}. Nội dung quy định thứ {i} của quyết định." for i in range(1, 25)])
    doc = render_document(text, extra_pages=1)
    leader = find_signature_field(doc.pdf, LEADER_FIELD)
    assert leader.page == 1
    assert leader.box.as_tuple() == pytest.approx(Box.of(doc.leader_box).as_tuple(), abs=0.01)
    both = await _agency(keyring, images, trust, await _leader(keyring, images, doc.pdf, signing_time), signing_time)
    seal = find_signature_field(both, AGENCY_FIELD)
    assert seal.page == 1
    assert seal.box.x1 < leader.box.x1 < seal.box.x2 < leader.box.x2
    assert all(f.sound for f in await inspect_signatures(both, trust))
