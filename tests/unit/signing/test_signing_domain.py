"""Pure rules of the signing service: placement geometry, stamp wording, R-8.3c."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from services.signing.domain.appearance import (
    VN_TZ,
    agency_stamp_lines,
    annex_stamp_lines,
    copy_stamp_lines,
    iso_vn,
)
from services.signing.domain.placement import (
    A4,
    MM,
    SEAL_DIAMETER_PT,
    AgencyStampLayout,
    Box,
    Margins,
    PageSize,
    agency_seal_box,
    annex_text_box,
    digitised_seal_box,
    seal_circle,
)
from services.signing.domain.rules import RefusalCode, SignatureFacts, check_agency_signature_allowed

LEADER = Box(125 * MM, 100 * MM, 185 * MM, 130 * MM)  # 60 x 30 mm, as shared.pdfdocs draws it


# --- placement (standards §4.2, NĐ 30 Phụ lục I II.8) -----------------------------------------


def test_seal_covers_left_third_of_leader_box():
    layout = AgencyStampLayout(text_band=20)
    stamp = agency_seal_box(LEADER, layout)
    seal = seal_circle(stamp, layout)
    assert seal.width == pytest.approx(35 * MM)
    # right edge of the seal at one third of the signature box, seal centred on it vertically
    assert seal.x2 == pytest.approx(LEADER.x1 + LEADER.width / 3)
    assert seal.center[1] == pytest.approx(LEADER.center[1])
    covered = seal.intersection(LEADER)
    assert covered is not None
    assert covered.x1 == pytest.approx(LEADER.x1)
    assert covered.width / LEADER.width == pytest.approx(1 / 3)
    # the text band hangs below the seal, inside the stamp box
    assert stamp.height == pytest.approx(35 * MM + 20)
    assert stamp.y1 == pytest.approx(seal.y1 - 20)


def test_seal_box_is_kept_on_the_page():
    near_edge = Box(5, 400, 65, 430)
    box = agency_seal_box(near_edge, page=A4)
    assert box.x1 >= 0 and box.width == pytest.approx(SEAL_DIAMETER_PT)


def test_overlap_must_be_a_fraction():
    with pytest.raises(ValueError):
        agency_seal_box(LEADER, overlap=1.5)


def test_annex_text_box_top_right_of_page():
    box = annex_text_box(A4, (150, 30), Margins(top=10, right=40))
    assert (box.x2, box.y2) == pytest.approx((A4.width - 40, A4.height - 10))
    assert (box.width, box.height) == pytest.approx((150, 30))


def test_digitised_box_top_left_of_page():
    page = PageSize(612, 792)  # US letter scans happen too
    box = digitised_seal_box(page, (99, 120), Margins(top=20, left=30))
    assert (box.x1, box.y2) == pytest.approx((30, 772))
    assert (box.width, box.height) == pytest.approx((99, 120))


def test_box_rejects_degenerate_and_normalises():
    assert Box.of((10, 20, 5, 8)).as_tuple() == (5, 8, 10, 20)
    with pytest.raises(ValueError):
        Box(1, 1, 1, 5)


# --- wording -------------------------------------------------------------------------------


def test_iso_time_is_vietnam_time():
    moment = dt.datetime(2026, 3, 5, 2, 15, 30, 123456, tzinfo=dt.timezone.utc)
    assert iso_vn(moment) == "2026-03-05T09:15:30+07:00"
    with pytest.raises(ValueError):
        iso_vn(dt.datetime(2026, 3, 5, 9, 0))


def test_stamp_lines_are_composed_vietnamese():
    t = dt.datetime(2026, 3, 5, 9, 15, 30, tzinfo=VN_TZ)
    decomposed = "UBND xa\u0303 Hoa\u0306\u0300ng \u0110u\u031b\u0301c"
    assert agency_stamp_lines(decomposed, t) == ["UBND xã Hoằng Đức", "2026-03-05T09:15:30+07:00"]
    assert annex_stamp_lines("12/QĐ-UBND", t)[0] == "12/QĐ-UBND"
    assert copy_stamp_lines("sao y", "UBND xã Hoằng Đức", t)[0] == "SAO Y"


# --- R-8.3c ----------------------------------------------------------------------------------

AGENCY, CHAIRMAN, OTHER = "aa" * 32, "cc" * 32, "ee" * 32
GOOD = SignatureFacts("ChuKyLanhDao", "Lê Văn Minh", CHAIRMAN, 2, True, True, True, True, True)


def test_agency_allowed_after_valid_leader_signature():
    decision = check_agency_signature_allowed([GOOD], agency_key_ids=[AGENCY])
    assert decision.allowed and decision.leader_signature == GOOD


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        ([], RefusalCode.NO_SIGNATURE),
        ([dataclasses.replace(GOOD, signer_key_id=AGENCY)], RefusalCode.ONLY_AGENCY_SIGNATURE),
        ([dataclasses.replace(GOOD, intact=False)], RefusalCode.LEADER_SIGNATURE_BROKEN),
        ([dataclasses.replace(GOOD, later_changes_ok=False)], RefusalCode.DOCUMENT_CHANGED_AFTER_LEADER),
        ([dataclasses.replace(GOOD, trusted=False)], RefusalCode.LEADER_NOT_TRUSTED),
    ],
)
def test_agency_refused(facts, code):
    decision = check_agency_signature_allowed(facts, agency_key_ids=[AGENCY])
    assert not decision.allowed
    assert decision.code is code
    assert "R-8.3c" in decision.reason_vi and "R-8.3c" in decision.reason_en


def test_only_listed_leaders_count_when_configured():
    other = dataclasses.replace(GOOD, signer_key_id=OTHER)
    refused = check_agency_signature_allowed([other], agency_key_ids=[AGENCY], leader_key_ids=[CHAIRMAN])
    assert refused.code is RefusalCode.LEADER_NOT_AUTHORISED
    allowed = check_agency_signature_allowed([other, GOOD], agency_key_ids=[AGENCY], leader_key_ids=[CHAIRMAN])
    assert allowed.allowed and allowed.leader_signature == GOOD
