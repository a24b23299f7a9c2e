"""A document's life in the archive with every part real (issue 5): an agency's signed document
arrives over the local axis and the commune issues one of its own; both are archived with their
page counts and text; an officer keeps them in a catalogue dossier (R-10.1, R-10.4, R-10.6),
closes and submits it (R-10.5); the archivist checks and accepts it, after which every change is
refused (R-11.3); search finds it without diacritics; it exports as a BagIt package."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from staff_http import http
from tests.e2e.test_handling import post, registered
from tests.e2e.test_round_trip import agency_send, get, wait_until

pytestmark = pytest.mark.e2e

HOME_AFFAIRS = "000.12.00.H56"
YEAR_FIELD = "year"


def archived(urls, record_id: str) -> dict:
    return wait_until(lambda: http.get(f"{urls['archive']}/records/{record_id}", timeout=10),
                      lambda r: r.status_code == 200, what="archive record").json()


def test_a_dossier_from_arrival_to_archival_and_export(system):
    stack, urls = system
    [document_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc quyết định ban hành quy chế văn thư điện tử")
    incoming = registered(urls, document_id)
    record = archived(urls, f"incoming:{incoming['id']}")
    assert record["page_count"] >= 1 and record["state"] == "kept" and record[YEAR_FIELD] == incoming["register"]["year"]
    year = record[YEAR_FIELD]

    # The year's catalogue, approved by the chairman; an officer cannot approve it, nor
    # anyone in the chairman's name.
    entry = {"notation": "03.VP", "title": "Hồ sơ về công tác văn thư, lưu trữ năm", "retention": "10 năm",
             "keeper": "cc.vanphong", "heading": "I. VĂN PHÒNG - THỐNG KÊ"}
    assert post(f"{urls['archive']}/catalogue/{year}/entries", {"by": "cc.vanphong", "entries": [entry]}).status_code == 403
    in_his_name = post(f"{urls['archive']}/catalogue/{year}/entries", {"by": "chutich", "entries": [entry]}, as_="phochutich")
    assert in_his_name.status_code == 403 and "thay người khác" in in_his_name.json()["detail"]
    assert get(f"{urls['archive']}/catalogue/{year}") == []
    assert post(f"{urls['archive']}/catalogue/{year}/entries", {"by": "chutich", "entries": [entry]}).status_code == 201
    bad = post(f"{urls['archive']}/catalogue/{year}/entries", {"by": "chutich", "entries": [{**entry, "retention": "mãi"}]})
    assert bad.status_code == 422 and "Thời hạn bảo quản" in bad.json()["detail"]

    opened = post(f"{urls['archive']}/dossiers", {"by": "cc.vanphong", "year": year, "notation": "03.VP"})
    assert opened.status_code == 201, opened.text
    code = opened.json()["code"]
    assert code == f"000.24.26.H56.{year}.03.VP"
    # Another officer is not its keeper: the access rule lets officers keep dossiers, the domain
    # refuses one who is not this dossier's keeper; nor may she act in the keeper's name.
    other = post(f"{urls['archive']}/dossiers/{code}/items", {"record_id": record["id"]}, as_="cc.tuphap")
    assert other.status_code == 403 and "Chỉ người lập hồ sơ" in other.json()["detail"], other.text
    assert post(f"{urls['archive']}/dossiers/{code}/items", {"by": "cc.vanphong", "record_id": record["id"]},
                as_="cc.tuphap").status_code == 403
    # The archivist does not fill officers' dossiers (R-10.2), the operator reads none.
    assert post(f"{urls['archive']}/dossiers/{code}/items", {"by": "luutru", "record_id": record["id"]}).status_code == 403
    assert http.get(f"{urls['archive']}/dossiers/{code}", headers=http.headers("vanhanh", "operator")).status_code == 403
    added = post(f"{urls['archive']}/dossiers/{code}/items", {"by": "cc.vanphong", "record_id": record["id"]})
    assert added.status_code == 200, added.text
    assert added.json()["doc_total"] == 1 and added.json()["page_total"] == record["page_count"]
    assert post(f"{urls['archive']}/dossiers/{code}/items",
                {"by": "cc.vanphong", "record_id": "incoming:khong-co"}).status_code == 422
    closed = post(f"{urls['archive']}/dossiers/{code}/close", {"by": "cc.vanphong"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.text
    assert post(f"{urls['archive']}/dossiers/{code}/submit", {"by": "cc.vanphong"}).status_code == 200

    # The archive's check and acceptance are the archivist's, not the keeper's.
    assert post(f"{urls['archive']}/dossiers/{code}/accept", {"by": "cc.vanphong"}).status_code == 403
    accepted = post(f"{urls['archive']}/dossiers/{code}/accept", {"by": "luutru"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "archival" and accepted.json()["review"]["passed"]
    for path, body in [("items", {"by": "cc.vanphong", "record_id": record["id"]}), ("close", {"by": "cc.vanphong"}),
                       ("submit", {"by": "cc.vanphong"}), ("reopen", {"by": "chutich", "reason": "sửa"})]:
        refused = post(f"{urls['archive']}/dossiers/{code}/{path}", body)
        assert refused.status_code == 409 and "chỉ đọc" in refused.json()["detail"], (path, refused.text)
    patched = http.patch(f"{urls['archive']}/dossiers/{code}", json={"by": "cc.vanphong", "title": "Khác"}, timeout=10)
    assert patched.status_code == 409
    assert get(f"{urls['archive']}/dossiers/{code}?user=cc.tuphap")["state_vi"] == "Hồ sơ lưu trữ điện tử"

    # Search without diacritics finds the document, filtered by the dossier (issue 5 item 6).
    found = wait_until(lambda: get(f"{urls['archive']}/search?q=quyet+dinh+ban+hanh&user=cc.tuphap&dossier={code}"),
                       lambda r: any(hit["id"] == record["id"] for hit in r["results"]), what="search hit")
    assert found["results"][0]["id"] == record["id"]

    assert http.get(f"{urls['archive']}/dossiers/{code}/export", as_="cc.vanphong").status_code == 403
    exported = http.get(f"{urls['archive']}/dossiers/{code}/export", as_="luutru", timeout=60)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert any(n.endswith("bagit.txt") for n in names) and any(n.endswith("manifest-sha256.txt") for n in names)
