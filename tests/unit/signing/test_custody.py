"""Key custody (R-8.2, R-8.3a): the chairman's key for the chairman, the agency key for the
clerk it is assigned to; anyone else only with the chairman's written delegation, recorded,
within its dates, not revoked."""

from __future__ import annotations

import datetime as dt

from services.signing.domain.custody import Delegation, check_delegation, may_use
from shared.config import Settings
from shared.staff import load_staff

STAFF = load_staff(Settings().staff_file)
HOLDERS = Settings().holders_of_keys()
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)


def delegation(**overrides) -> Delegation:
    values = dict(delegation_id="d1", user="cc.vanphong", key_label="agency", valid_from=NOW - dt.timedelta(days=1),
                  valid_until=NOW + dt.timedelta(days=7), document="05/GUQ-UBND", granted_by="chutich")
    return Delegation(**{**values, **overrides})


def decide(key, user, delegations=()):
    return may_use(key, user, holders=HOLDERS, staff=STAFF, delegations=list(delegations), at=NOW)


def test_holders_use_their_own_keys_only():
    assert decide("agency", "vanthu").basis == "holder"
    assert decide("agency", "user:vanthu").allowed  # requests name users either way
    assert decide("chairman", "chutich").basis == "holder"
    refused = decide("chairman", "vanthu")
    assert not refused.allowed and "không được giao giữ khóa «chairman»" in refused.reason_vi
    assert not decide("agency", "chutich").allowed  # the chairman does not apply the seal himself (Điều 32.2)


def test_an_officer_needs_a_valid_delegation():
    assert not decide("agency", "cc.vanphong").allowed
    assert decide("agency", "cc.vanphong", [delegation()]).basis == "delegation:d1"
    for expired in (delegation(valid_until=NOW - dt.timedelta(minutes=1)), delegation(valid_from=NOW + dt.timedelta(hours=1)),
                    delegation(revoked_at=NOW - dt.timedelta(hours=1)), delegation(key_label="chairman"),
                    delegation(user="cc.tuphap")):
        assert not decide("agency", "cc.vanphong", [expired]).allowed, expired


def test_only_the_chairman_delegates_and_the_request_must_be_complete():
    ok = dict(user="cc.vanphong", key_label="agency", granted_by="chutich", valid_from=NOW, valid_until=NOW + dt.timedelta(days=1),
              document="05/GUQ-UBND", staff=STAFF, holders=HOLDERS)
    assert check_delegation(**ok) == []
    assert "Chỉ Chủ tịch" in check_delegation(**{**ok, "granted_by": "phochutich"})[0]
    assert check_delegation(**{**ok, "valid_until": NOW, "document": " ", "key_label": "khac"}) == [
        "Không có khóa «khac» trên thiết bị ký số.", "Thời hạn ủy quyền phải kết thúc sau khi bắt đầu.",
        "Ghi số, ký hiệu văn bản ủy quyền."]
