"""Drafts and approval (R-6.3, R-7.1): who may do what, versions and comments kept."""

from __future__ import annotations

import datetime as dt

import pytest

from services.dispatch.domain import drafts as rules
from services.dispatch.domain.drafts import DraftError
from shared.config import Settings
from shared.staff import load_staff

STAFF = load_staff(Settings().staff_file)
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
KEYS = {"chairman": "chairman"}


def draft() -> dict:
    return rules.new_draft(author=STAFF.get("cc.vanphong"), version={"pdf": "v1"}, fields={"subject": "Báo cáo"}, answers=[],
                           now=NOW)


def test_returned_with_comments_then_a_new_version_then_approved_by_the_chairman():
    d = draft()
    d.update(rules.submit(d, by="cc.vanphong", now=NOW))
    d.update(rules.return_with_comments(d, leader=STAFF.get("phochutich"), comment="Bổ sung số liệu quý IV", now=NOW))
    with pytest.raises(DraftError, match="tải lên bản đã sửa"):
        rules.submit(d, by="cc.vanphong", now=NOW)
    d.update(rules.add_version(d, by="cc.vanphong", version={"pdf": "v2"}, now=NOW))
    d.update(rules.submit(d, by="cc.vanphong", now=NOW))
    changes, key = rules.approve(d, leader=STAFF.get("chutich"), key_of=KEYS, now=NOW)
    d.update(changes)
    assert key == "chairman" and d["state"] == "approved" and d["approved_version"] == 2
    assert [v["pdf"] for v in d["versions"]] == ["v1", "v2"] and d["comments"][0]["comment"] == "Bổ sung số liệu quý IV"
    assert [h["action"] for h in d["history"]] == ["created", "submitted", "returned", "new_version", "submitted", "approved"]


def test_who_may_do_what():
    with pytest.raises(DraftError, match="soạn dự thảo"):
        rules.new_draft(author=STAFF.get("luutru"), version={}, fields={}, answers=[], now=NOW)
    d = draft()
    with pytest.raises(DraftError, match="người soạn"):
        rules.submit(d, by="cc.tuphap", now=NOW)
    d.update(rules.submit(d, by="cc.vanphong", now=NOW))
    with pytest.raises(DraftError, match="Chủ tịch hoặc Phó Chủ tịch"):
        rules.approve(d, leader=STAFF.get("vanthu"), key_of=KEYS, now=NOW)
    with pytest.raises(DraftError, match="chưa có khóa ký số"):
        rules.approve(d, leader=STAFF.get("phochutich"), key_of=KEYS, now=NOW)
    with pytest.raises(DraftError, match="Ghi ý kiến"):
        rules.return_with_comments(d, leader=STAFF.get("chutich"), comment=" ", now=NOW)
    with pytest.raises(DraftError) as busy:
        rules.add_version(d, by="cc.vanphong", version={}, now=NOW)
    assert busy.value.conflict
