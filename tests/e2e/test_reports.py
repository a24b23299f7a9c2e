"""Reports with every part real (issue 6 item 3; R-9.4, R-12.4, R-12.6, R-15.5): a document the
province sends is registered, assigned by the chairman to an officer, received and completed by
her, and counts in her figures as handled on time — in intake's report, on the portal's page and
in its XLSX export; leaders see every officer, an officer only herself, the clerk the yearly
report but not the officers', the operator neither."""

from __future__ import annotations

import io
import re
import time

import httpx
import pytest
from openpyxl import load_workbook

from shared.clock import utcnow, vn_date
from staff_http import http

pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
OFFICER, OFFICER_NAME, OTHER_OFFICER = "cc.tuphap", "Hoàng Thị Lan", "cc.diachinh"
INITIAL_PASSWORD, NEW_PASSWORD = "DoiMatKhau@2026", "Bao-cao-2026-moi!"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def wait_until(fetch, predicate, *, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if predicate(last):
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached in {timeout}s; last value: {last!r}")


def incoming(urls, document_id: str) -> dict | None:
    response = http.get(f"{urls['intake']}/documents?limit=500", as_="vanthu")
    assert response.status_code == 200, response.text
    return next((d for d in response.json() if d.get("response_for", {}).get("document_id") == document_id), None)


class Portal:
    """A browser on the portal: its session cookie kept by hand (the cookie is Secure, the test
    stack speaks plain http on 127.0.0.1), the CSRF token read from each form."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = httpx.request(method, self.url + path, headers={"Cookie": header} if header else {}, timeout=60,
                                 follow_redirects=False, **kwargs)
        for name, value in response.headers.multi_items():
            if name.lower() == "set-cookie":
                cookie, _, _ = value.partition(";")
                key, _, val = cookie.partition("=")
                if val.strip('"'):
                    self.cookies[key.strip()] = val.strip('"')
                else:
                    self.cookies.pop(key.strip(), None)
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def form(self, path: str, action: str, data: dict) -> httpx.Response:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return self.request("POST", action, data={**data, "csrf_token": CSRF.search(page.text).group(1)})

    def sign_in(self, user: str) -> Portal:
        answer = self.form("/dang-nhap", "/dang-nhap", {"user": user, "password": INITIAL_PASSWORD, "next": ""})
        assert answer.status_code == 303, answer.text
        if answer.headers["location"] == "/doi-mat-khau":  # the first sign-in changes the password
            changed = self.form("/doi-mat-khau", "/doi-mat-khau", {"old_password": INITIAL_PASSWORD, "new_password": NEW_PASSWORD,
                                                                   "confirm_password": NEW_PASSWORD})
            assert changed.status_code == 303, changed.text
        return self


def test_a_document_handled_in_time_counts_for_its_officer_in_the_report_and_its_export(system):
    stack, urls = system
    sent = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/send", json={}, timeout=120)
    assert sent.status_code == 200, sent.text
    [document_id] = [d["document_id"] for d in sent.json()["documents"]]
    document = wait_until(lambda: incoming(urls, document_id), lambda d: d is not None and d["state"] == "registered",
                          what="registration")
    key = document["id"]

    assigned = http.post(f"{urls['intake']}/documents/{key}/assignment", as_="chutich",
                         json={"lead": {"officer": OFFICER, "working_days": 5}, "note": "Giao công chức Tư pháp xử lý."})
    assert assigned.status_code == 200, assigned.text
    assert http.post(f"{urls['intake']}/documents/{key}/handling/{OFFICER}/received", as_=OFFICER).status_code == 200
    done = http.post(f"{urls['intake']}/documents/{key}/handling/{OFFICER}/completed", as_=OFFICER,
                     json={"note": "Đã xử lý xong"})
    assert done.status_code == 200 and done.json()["handling"]["state"] == "completed", done.text

    today = vn_date(utcnow()).isoformat()
    period = {"from": today, "to": today}
    report = http.get(f"{urls['intake']}/reports/officers", params=period, as_="chutich")
    assert report.status_code == 200, report.text
    [row] = [r for r in report.json()["officers"] if r["officer"] == OFFICER]
    assert (row["received"], row["on_time"], row["late"], row["outstanding"], row["overdue"]) == (1, 1, 0, 0, 0)
    assert row["on_time_rate"] == 100.0 and row["name"] == OFFICER_NAME

    # An officer sees her own row only; asking for a colleague's is refused.
    own = http.get(f"{urls['intake']}/reports/officers", params=period, as_=OFFICER).json()
    assert [r["officer"] for r in own["officers"]] == [OFFICER] and own["officers"][0]["on_time"] == 1
    assert http.get(f"{urls['intake']}/reports/officers", params={**period, "officer": OTHER_OFFICER},
                    as_=OFFICER).status_code == 403
    for service in ("intake", "dispatch", "archive"):
        assert http.get(f"{urls[service]}/reports/officers", params=period, as_="chutich").status_code == 200
        assert http.get(f"{urls[service]}/reports/officers", params=period, as_="vanthu").status_code == 403
        assert http.get(f"{urls[service]}/reports/officers", params=period, as_="vanhanh").status_code == 403
        assert httpx.get(f"{urls[service]}/reports/officers", timeout=30).status_code == 401

    # The yearly report: the clerk compiles it, the operator does not read it.
    year = int(today[:4])
    yearly = http.get(f"{urls['intake']}/reports/year/{year}", as_="vanthu")
    assert yearly.status_code == 200, yearly.text
    assert yearly.json()["incoming"]["registered"] >= 1 and yearly.json()["assignments"]["completed_on_time"] == 1
    today_only = http.get(f"{urls['intake']}/reports/year/{year}", params=period, as_="vanthu").json()  # ad hoc
    assert today_only["period"] == period and today_only["assignments"]["completed_on_time"] == 1
    for service in ("intake", "dispatch", "archive", "signing"):
        assert http.get(f"{urls[service]}/reports/year/{year}", as_="vanthu").status_code == 200
        assert http.get(f"{urls[service]}/reports/year/{year}", as_="vanhanh").status_code == 403
        assert http.get(f"{urls[service]}/reports/year/{year}", as_=OFFICER).status_code == 403

    # The portal: the chairman's page shows her row and a chart; the XLSX export has that row.
    chairman = Portal(urls["portal"]).sign_in("chutich")
    page = chairman.get(f"/bao-cao?tu={today}&den={today}")
    assert page.status_code == 200, page.text
    assert f'id="officer-{OFFICER}"' in page.text and "<svg" in page.text and "Xử lý đúng hạn" in page.text
    export = chairman.get(f"/bao-cao/xuat.xlsx?tu={today}&den={today}")
    assert export.status_code == 200, export.text
    assert "attachment" in export.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(r for r in rows if r[:2] == ["STT", "Cán bộ"])
    [lan] = [r for r in rows if r[1] == OFFICER_NAME]
    figures = dict(zip(header, lan))
    assert (figures["Văn bản được giao"], figures["Xử lý đúng hạn"], figures["Xử lý quá hạn"], figures["Đang xử lý (tồn)"]) == (1, 1, 0, 0)
    assert figures["Tỷ lệ đúng hạn"] == "100,0 %"
    pdf = chairman.get(f"/bao-cao/xuat.pdf?tu={today}&den={today}")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"

    # The officer's page has her row only; the yearly report is not hers to open.
    officer = Portal(urls["portal"]).sign_in(OFFICER)
    mine = officer.get(f"/bao-cao?tu={today}&den={today}&can_bo={OTHER_OFFICER}")
    assert mine.status_code == 200 and f'id="officer-{OFFICER}"' in mine.text and f'id="officer-{OTHER_OFFICER}"' not in mine.text
    assert officer.get("/bao-cao/nam").status_code == 403

    # The clerk opens the yearly report and exports it.
    clerk = Portal(urls["portal"]).sign_in("vanthu")
    assert clerk.get("/bao-cao").status_code == 403
    year_page = clerk.get(f"/bao-cao/nam?nam={year}")
    assert year_page.status_code == 200 and "I. Văn bản đến" in year_page.text and "VI. Chữ ký số" in year_page.text
    year_xlsx = clerk.get(f"/bao-cao/nam/xuat.xlsx?nam={year}")
    assert year_xlsx.status_code == 200
    cells = [c.value for r in load_workbook(io.BytesIO(year_xlsx.content)).active.iter_rows() for c in r]
    assert "Hoàn thành đúng hạn" in cells and "III. Văn bản đi" in cells
