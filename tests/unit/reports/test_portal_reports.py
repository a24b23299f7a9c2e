"""The portal's reports (R-12.4, R-12.6), pure: the services' figures side by side, a service that
did not answer shown as missing (never as 0), the bar charts' geometry, and the XLSX and PDF
files with their Vietnamese text."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

from openpyxl import load_workbook

from services.portal.adapters.report_files import officer_report_file, year_report_file
from services.portal.domain import reports
from shared.clock import VN_TZ
from shared.report_period import Period

PERIOD = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
AS_OF = dt.datetime(2026, 4, 30, 17, 0, tzinfo=VN_TZ)


def answers(with_archive: bool = True) -> dict:
    intake = {"officers": [
        {"officer": "cc.tuphap", "name": "Hoàng Thị Lan", "received": 5, "on_time": 3, "late": 1, "outstanding": 1,
         "overdue": 1, "replies_owed": 1, "replies_overdue": 0},
        {"officer": "cc.diachinh", "name": "Đỗ Văn Nam", "received": 2, "on_time": 0, "late": 0, "outstanding": 2,
         "overdue": 0, "replies_owed": 0, "replies_overdue": 0}]}
    dispatch = {"officers": [{"officer": "cc.tuphap", "name": "Hoàng Thị Lan", "drafts_written": 4, "issued": 2,
                              "replies_awaited": 1}]}
    archive = {"officers": [{"officer": "cc.tuphap", "name": "Hoàng Thị Lan", "closed": 1, "submitted": 1}]}
    return {"intake": intake, "dispatch": dispatch, "archive": archive if with_archive else None}


def test_one_row_per_officer_with_every_services_figures_and_totals():
    table = reports.officer_table(answers(), officers=["cc.vanphong"], names={"cc.vanphong": "Phạm Minh Tuấn"})
    assert [r["officer"] for r in table.rows] == ["cc.tuphap", "cc.diachinh", "cc.vanphong"]  # by given name: Lan, Nam, Tuấn
    lan = table.rows[0]
    assert (lan["received"], lan["on_time"], lan["late"], lan["drafts_written"], lan["dossiers_submitted"]) == (5, 3, 1, 4, 1)
    assert table.rows[2]["received"] == 0 and table.rate(table.rows[2]) == "—"
    assert table.totals["received"] == 7 and table.totals["outstanding"] == 3
    assert table.rate(lan) == "75,0 %" and table.missing == []


def test_a_service_that_did_not_answer_is_missing_not_zero():
    table = reports.officer_table(answers(with_archive=False))
    assert table.missing == ["archive"]
    assert table.rows[0]["dossiers_closed"] == "—" and table.totals["dossiers_closed"] == "—"
    assert table.rows[0]["received"] == 5


def test_bar_chart_geometry_is_proportional_on_a_round_scale():
    assert [reports.nice_max(v) for v in (0, 1, 3, 7, 10, 11, 180, 501)] == [1, 1, 5, 10, 10, 20, 200, 1000]
    chart = reports.bar_chart(["Lan", "Nam"], [("Đúng hạn", [3, 0]), ("Quá hạn", [1, "—"])], width=640, label_width=170)
    plot = 640 - 170 - 44
    assert [(b.value, b.width) for b in chart.bars] == [(3, round(plot * 3 / 5, 1)), (1, round(plot / 5, 1)), (0, 0.0)]
    assert all(b.x == 170 for b in chart.bars) and chart.bars[2].y > chart.bars[1].y  # Nam's group below Lan's
    assert [t for _, t in chart.ticks] == ["0", "1", "2", "3", "4", "5"] and len(chart.legend) == 2
    assert [t for _, t in reports.bar_chart(["a"], [("x", [17])]).ticks] == ["0", "5", "10", "15", "20"]
    assert chart.bars[0].label == "Lan — Đúng hạn: 3"
    assert chart.height >= chart.plot_bottom


def test_the_officer_report_exports_open_with_their_rows():
    table = reports.officer_table(answers())
    body, media = officer_report_file("xlsx", table, PERIOD, as_of=AS_OF)
    assert media.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(body)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert "BÁO CÁO SỐ LIỆU" in values[0][0] and "từ ngày 01/04/2026 đến ngày 30/04/2026" in values[1][0]
    header = values[2]
    assert header[:3] == ["STT", "Cán bộ", "Văn bản được giao"] and header[-1] == "Tỷ lệ đúng hạn"
    lan = next(v for v in values if v[1] == "Hoàng Thị Lan")
    assert lan[2:5] == [5, 3, 1]  # numbers stay numbers in the spreadsheet
    assert values[-1][1] == "Tổng cộng" and values[-1][2] == 7
    late = [{"officer_name": "Đỗ Văn Nam", "code": "9/UBND", "subject": "Về việc đo đạc đất", "role": "lead",
             "deadline": "2026-04-20T23:59:59+07:00"}]
    with_overdue = load_workbook(io.BytesIO(officer_report_file("xlsx", table, PERIOD, overdue=late)[0])).active
    cells = [[c.value for c in row] for row in with_overdue.iter_rows()]
    assert ["Văn bản tồn đã quá hạn cuối kỳ"] == [v for v in cells[-3] if v]
    assert cells[-1][:6] == [1, "Đỗ Văn Nam", "9/UBND", "Về việc đo đạc đất", "Chủ trì", "20/04/2026"]
    missing = officer_report_file("xlsx", reports.officer_table(answers(with_archive=False)), PERIOD)[0]
    assert "chưa có số liệu của hệ thống lưu trữ" in load_workbook(io.BytesIO(missing)).active["A2"].value


def test_the_yearly_report_has_every_part_and_its_pdf_carries_the_vietnamese_text(tmp_path):
    year = {
        "intake": {"incoming": {"received": 9, "received_electronic": 8, "received_paper": 1, "registered": 7,
                                "registered_by_kind": {"Công văn": 5, "Quyết định": 2}, "refused": 2,
                                "refused_by_reason": {"Chữ ký số": 2}, "urgent": 1, "urgent_by_level": {"Hỏa tốc": 1},
                                "digitised": 1, "digitisation_failed": 0, "possible_duplicates": 0, "recalled": 1,
                                "recall_requests": {"recall": {"agreed": 1, "refused": 0, "total": 1}}},
                   "assignments": {"documents_assigned": 6, "reply_required": 2, "tasks": 8, "completed_on_time": 5,
                                   "completed_late": 1, "on_time_rate": 83.3, "outstanding": 2, "overdue": 1}},
        "dispatch": None,
        "archive": {"catalogue": {"planned": 4, "approved": 4, "proposed_pending": 0, "refused": 0, "proposed_outside": 1},
                    "dossiers": {"opened": 3, "closed": 2, "reopened": 0, "submitted": 1, "accepted": 1, "returned": 0,
                                 "open_at_end": 1, "archival_at_end": 1},
                    "disposal": {"proposed": 0, "approved": 0, "rejected": 0, "restored": 0, "destroyed": 0, "holds_placed": 0},
                    "records": {"kept": 12, "incoming": 7, "outgoing": 4, "material": 1}},
        "signing": {"signatures": {"signed": 3, "refused": 0, "role_labels": {"leader": "Chữ ký lãnh đạo"},
                                   "by_key": {"chairman": {"signed": 3, "refused": 0, "by_role": {"leader": 3},
                                                           "by_level": {"B-T": 3}, "by_custody": {"holder": 3}}}}},
    }
    sections = reports.year_sections(year)
    headings = [s.heading for s in sections]
    assert headings[0] == "I. Văn bản đến" and headings[-1].startswith("VI. Chữ ký số") and len(headings) == 6
    assert ("  lý do: Chữ ký số", 2) in sections[0].rows and ("Tỷ lệ đúng hạn", "83,3 %") in sections[1].rows
    assert sections[2].rows[0][1] == "—" and "không trả lời" in sections[2].rows[0][0]  # dispatch did not answer
    assert reports.section_chart(sections[1]).bars[0].value == 5

    path = tmp_path / "bao-cao.pdf"
    body, media = year_report_file("pdf", 2026, sections, as_of=AS_OF)
    assert media == "application/pdf"
    path.write_bytes(body)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "THỰC HIỆN QUY CHẾ VĂN BẢN ĐIỆN TỬ NĂM 2026" in text and "Văn bản bị từ chối tiếp nhận" in text
    assert "Khóa «chairman»" in text and "Hồ sơ Lưu trữ cơ quan đã tiếp nhận" in text
    xlsx, _ = year_report_file("xlsx", 2026, sections)
    cells = [c.value for row in load_workbook(io.BytesIO(xlsx)).active.iter_rows() for c in row]
    assert "II. Giao xử lý văn bản đến (R-6.4)" in cells and 83.3 not in cells and "83,3 %" in cells
