"""The reports the portal shows (R-9.4, R-12.4, R-12.6), pure: each service computes its own figures
from its own database (`GET /reports/officers`, `GET /reports/year/{year}` of intake, dispatch,
the archive and signing); here they are put side by side — one row per officer, one table per
part of the yearly report — and drawn as bar charts (geometry only; the template writes the SVG).

A service that did not answer leaves its columns empty ("—") and is named on the page; the rest
of the report still shows (a figure is never invented as 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MISSING = "—"

# (column key, service, the service's figure, heading) — the order of the table and the exports.
OFFICER_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("received", "intake", "received", "Văn bản được giao"),
    ("on_time", "intake", "on_time", "Xử lý đúng hạn"),
    ("late", "intake", "late", "Xử lý quá hạn"),
    ("outstanding", "intake", "outstanding", "Đang xử lý (tồn)"),
    ("overdue", "intake", "overdue", "Tồn đã quá hạn"),
    ("replies_owed", "intake", "replies_owed", "Phải trả lời (R-10.3)"),
    ("replies_overdue", "intake", "replies_overdue", "Trả lời quá hạn"),
    ("drafts_written", "dispatch", "drafts_written", "Dự thảo đã soạn"),
    ("issued", "dispatch", "issued", "Văn bản đi đã phát hành"),
    ("replies_awaited", "dispatch", "replies_awaited", "Chờ nơi nhận trả lời"),
    ("dossiers_closed", "archive", "closed", "Hồ sơ đã đóng"),
    ("dossiers_submitted", "archive", "submitted", "Hồ sơ đã nộp lưu"),
)
OFFICER_SERVICES = ("intake", "dispatch", "archive")
SERVICE_LABELS_VI = {"intake": "văn bản đến", "dispatch": "văn bản đi", "archive": "lưu trữ", "signing": "ký số"}


@dataclass
class OfficerTable:
    columns: list[tuple[str, str]]  # (key, heading)
    rows: list[dict]  # officer, name, then one value per column key (int, or MISSING)
    totals: dict
    missing: list[str] = field(default_factory=list)  # services that did not answer

    def rate(self, row: dict) -> str:
        on_time, late = row.get("on_time"), row.get("late")
        if not isinstance(on_time, int) or not isinstance(late, int) or on_time + late == 0:
            return MISSING
        return f"{100 * on_time / (on_time + late):.1f} %".replace(".", ",")


def officer_table(answers: dict[str, dict | None], names: dict[str, str] | None = None,
                  officers: list[str] | None = None) -> OfficerTable:
    """One row per officer from the services' `GET /reports/officers` answers (None: no answer);
    `officers` are listed even with nothing to count (a row of zeros), `names` name them."""
    names = dict(names or {})
    by_service: dict[str, dict[str, dict]] = {}
    officers = list(officers or [])
    for service in OFFICER_SERVICES:
        answer = answers.get(service)
        if answer is None:
            continue
        rows = {r["officer"]: r for r in answer.get("officers", [])}
        by_service[service] = rows
        for officer, row in rows.items():
            if officer not in officers:
                officers.append(officer)
            names.setdefault(officer, row.get("name") or officer)
    rows = []
    for officer in sorted(officers, key=lambda o: (names.get(o, o).split()[-1:], names.get(o, o), o)):
        row = {"officer": officer, "name": names.get(officer, officer)}
        for key, service, figure, _ in OFFICER_COLUMNS:
            source = by_service.get(service)
            row[key] = MISSING if source is None else int((source.get(officer) or {}).get(figure, 0))
        rows.append(row)
    totals = {key: (MISSING if service not in by_service else sum(r[key] for r in rows))
              for key, service, _, _ in OFFICER_COLUMNS}
    return OfficerTable(columns=[(k, h) for k, _, _, h in OFFICER_COLUMNS], rows=rows, totals=totals,
                        missing=[s for s in OFFICER_SERVICES if s not in by_service])


def officer_export_rows(table: OfficerTable) -> tuple[tuple[str, ...], list[list]]:
    """Columns and rows of the officer report as the exports write them, totals last."""
    columns = ("STT", "Cán bộ", *(h for _, h in table.columns), "Tỷ lệ đúng hạn")
    rows = [[i, row["name"], *(row[k] for k, _ in table.columns), table.rate(row)] for i, row in enumerate(table.rows, 1)]
    rows.append(["", "Tổng cộng", *(table.totals[k] for k, _ in table.columns), table.rate(table.totals)])
    return columns, rows


# ---- the yearly report (R-12.6) ----------------------------------------------------------------


@dataclass
class Section:
    heading: str
    rows: list[tuple[str, object]]  # (what, how many) — a value is an int, a text, or MISSING
    service: str = ""
    chart: list[tuple[str, int]] = field(default_factory=list)  # bars drawn beside the table


REVISION_KINDS_VI = {"recall": "Thu hồi", "update": "Cập nhật", "replace": "Thay thế"}
RECALL_ANSWERS_VI = {"agreed": "nơi nhận đồng ý (15)", "refused": "nơi nhận từ chối (16)", "requested": "chưa trả lời",
                     "by_paper": "gửi ngoài hệ thống (bằng giấy)"}
CUSTODY_VI = {"holder": "người giữ khóa", "delegation": "người được ủy quyền", "none": "không rõ"}


def _pct(value) -> str:
    return MISSING if value is None else f"{value:.1f} %".replace(".", ",")


def _absent(heading: str, service: str) -> Section:
    return Section(heading, [(f"Hệ thống {SERVICE_LABELS_VI[service]} không trả lời: chưa có số liệu", MISSING)], service)


def year_sections(answers: dict[str, dict | None]) -> list[Section]:
    """The yearly report on applying the regulation, in the order of the regulation."""
    sections: list[Section] = []
    intake, dispatch, archive, signing = (answers.get(s) for s in ("intake", "dispatch", "archive", "signing"))
    if intake is None:
        sections += [_absent("I. Văn bản đến", "intake"), _absent("II. Giao xử lý văn bản đến", "intake")]
    else:
        inc, asg = intake["incoming"], intake["assignments"]
        rows: list[tuple[str, object]] = [
            ("Văn bản đến đã tiếp nhận", inc["received"]),
            ("  trong đó: qua trục liên thông", inc["received_electronic"]),
            ("  trong đó: văn bản giấy được số hóa", inc["received_paper"]),
            ("Văn bản đến đã đăng ký vào sổ", inc["registered"]),
            *((f"  loại: {kind}", n) for kind, n in inc["registered_by_kind"].items()),
            ("Văn bản bị từ chối tiếp nhận (R-3.4, R-6.1)", inc["refused"]),
            *((f"  lý do: {reason}", n) for reason, n in inc["refused_by_reason"].items()),
            ("Văn bản khẩn (R-4.2c)", inc["urgent"]),
            *((f"  độ khẩn: {level}", n) for level, n in inc["urgent_by_level"].items()),
            ("Văn bản giấy đã số hóa và đăng ký (R-6.5)", inc["digitised"]),
            ("Số hóa không thành", inc["digitisation_failed"]),
            ("Văn bản có thể trùng (cùng số, ký hiệu, nơi ban hành)", inc["possible_duplicates"]),
            ("Văn bản đến đã bị thu hồi (R-6.2)", inc["recalled"]),
        ]
        for kind, counts in inc["recall_requests"].items():
            rows.append((f"Yêu cầu {REVISION_KINDS_VI.get(kind, kind).lower()} nhận được: đồng ý / từ chối",
                         f"{counts['agreed']} / {counts['refused']}"))
        sections.append(Section("I. Văn bản đến", rows, "intake", chart=list(inc["registered_by_kind"].items())))
        sections.append(Section("II. Giao xử lý văn bản đến (R-6.4)", [
            ("Văn bản được giao xử lý", asg["documents_assigned"]),
            ("  trong đó: yêu cầu báo cáo, trả lời (R-10.3)", asg["reply_required"]),
            ("Lượt giao cho cán bộ (chủ trì, phối hợp)", asg["tasks"]),
            ("Hoàn thành đúng hạn", asg["completed_on_time"]),
            ("Hoàn thành quá hạn", asg["completed_late"]),
            ("Tỷ lệ đúng hạn", _pct(asg["on_time_rate"])),
            ("Còn đang xử lý cuối kỳ", asg["outstanding"]),
            ("  trong đó: đã quá hạn", asg["overdue"]),
        ], "intake", chart=[("Đúng hạn", asg["completed_on_time"]), ("Quá hạn", asg["completed_late"]),
                            ("Đang xử lý", asg["outstanding"])]))
    if dispatch is None:
        sections += [_absent("III. Văn bản đi", "dispatch"), _absent("IV. Dự thảo văn bản", "dispatch")]
    else:
        out, drafts = dispatch["outgoing"], dispatch["drafts"]
        rows = [
            ("Văn bản đi đã phát hành", out["issued"]),
            *((f"  loại: {kind}", n) for kind, n in out["issued_by_kind"].items()),
            ("Văn bản khẩn", out["urgent"]),
            *((f"  độ khẩn: {level}", n) for level, n in out["urgent_by_level"].items()),
            ("Phát hành đúng hạn (trong ngày ký, chậm nhất sáng ngày làm việc tiếp theo, R-4.2a)", out["issued_on_time"]),
            ("Phát hành muộn so với R-4.2a", out["issued_late"]),
            ("Tỷ lệ phát hành đúng hạn", _pct(out["on_time_rate"])),
            ("Đã ký nhưng quá hạn chưa phát hành", out["not_issued_past_deadline"]),
            ("Bản giấy phải gửi kèm (R-5.2)", out["paper_copies_required"]),
            ("  đã gửi", out["paper_copies_sent"]),
            ("  chưa gửi", out["paper_copies_pending"]),
            ("Nơi nhận gửi ngoài hệ thống (R-5.1)", out["deliveries_outside_system"]),
            ("Văn bản đi đã thu hồi (R-7.4)", out["recalled"]),
            *((f"  {RECALL_ANSWERS_VI.get(a, a)}", n) for a, n in out["recall_answers"].items()),
            ("Số đã cấp nhưng hủy, không phát hành (R-7.2b)", out["cancelled"]),
            ("Văn thư trả lại vì thể thức (R-7.2)", out["returned_by_clerk"]),
            ("Ký số bị từ chối", out["signature_refused"]),
            ("Văn bản đi yêu cầu trả lời (R-7.5)", out["replies_asked"]),
            ("  đã được trả lời đủ", out["replies_complete"]),
            ("  còn chờ trả lời", out["replies_owed"]),
            ("  chờ trả lời đã quá hạn", out["replies_owed_overdue"]),
        ]
        sections.append(Section("III. Văn bản đi", rows, "dispatch",
                                chart=[("Đúng hạn", out["issued_on_time"]), ("Muộn", out["issued_late"]),
                                       ("Quá hạn chưa phát hành", out["not_issued_past_deadline"])]))
        sections.append(Section("IV. Dự thảo văn bản (R-6.3, R-7.1)", [
            ("Dự thảo đã soạn", drafts["written"]), ("Dự thảo đã trình", drafts["submitted"]),
            ("Dự thảo bị trả lại kèm ý kiến", drafts["returned"]), ("Dự thảo được duyệt, ký", drafts["approved"]),
        ], "dispatch"))
    if archive is None:
        sections.append(_absent("V. Lập hồ sơ và nộp lưu", "archive"))
    else:
        cat, dos, disp, rec = archive["catalogue"], archive["dossiers"], archive["disposal"], archive["records"]
        sections.append(Section("V. Lập hồ sơ và nộp lưu (R-10, R-11)", [
            ("Hồ sơ trong Danh mục hồ sơ của năm", cat["planned"]),
            ("  đề nghị ngoài danh mục", cat["proposed_outside"]),
            ("  đề nghị bị từ chối", cat["refused"]),
            ("Hồ sơ đã lập (mở)", dos["opened"]),
            ("Hồ sơ đã đóng (R-10.5)", dos["closed"]),
            ("Hồ sơ đã nộp lưu", dos["submitted"]),
            ("Hồ sơ Lưu trữ cơ quan đã tiếp nhận (R-11.3)", dos["accepted"]),
            ("Hồ sơ bị Lưu trữ trả lại", dos["returned"]),
            ("Hồ sơ đang lập cuối kỳ", dos["open_at_end"]),
            ("Hồ sơ lưu trữ điện tử cuối kỳ", dos["archival_at_end"]),
            ("Đề nghị hủy hồ sơ hết thời hạn lưu trữ (R-11.1)", disp["proposed"]),
            ("  được duyệt", disp["approved"]),
            ("  bị từ chối", disp["rejected"]),
            ("  khôi phục từ thùng chờ hủy", disp["restored"]),
            ("Hồ sơ đã hủy", disp["destroyed"]),
            ("Phong tỏa hồ sơ", disp["holds_placed"]),
            ("Văn bản, tài liệu đưa vào lưu trữ điện tử", rec["kept"]),
            ("  văn bản đến / văn bản đi / tài liệu khác", f"{rec['incoming']} / {rec['outgoing']} / {rec['material']}"),
        ], "archive", chart=[("Đã lập", dos["opened"]), ("Đã đóng", dos["closed"]), ("Đã nộp lưu", dos["submitted"]),
                             ("Đã tiếp nhận", dos["accepted"])]))
    if signing is None:
        sections.append(_absent("VI. Chữ ký số", "signing"))
    else:
        sig = signing["signatures"]
        labels = sig.get("role_labels", {})
        rows = [("Lượt ký số thành công", sig["signed"]), ("Lượt ký số bị từ chối", sig["refused"])]
        for key, counts in sig["by_key"].items():
            rows.append((f"Khóa «{key}»: ký / từ chối", f"{counts['signed']} / {counts['refused']}"))
            rows += [(f"  {labels.get(role, role)}", n) for role, n in counts["by_role"].items()]
            rows += [(f"  theo {CUSTODY_VI.get(c, c)} (R-8.2, R-8.3a)", n) for c, n in counts["by_custody"].items()]
            rows += [(f"  định dạng PAdES {level}", n) for level, n in counts["by_level"].items()]
        sections.append(Section("VI. Chữ ký số (R-8.2, R-8.3)", rows, "signing",
                                chart=[(k, c["signed"]) for k, c in sig["by_key"].items()]))
    return sections


def year_export_rows(sections: list[Section]) -> list[tuple[str, tuple[str, ...], list[list]]]:
    return [(s.heading, ("Nội dung", "Số lượng"), [[what, value] for what, value in s.rows]) for s in sections]


# ---- charts (server-rendered SVG, no script) ----------------------------------------------------

SERIES_COLOURS = ("#1a7f37", "#cf222e", "#0969da", "#9a6700", "#8250df", "#59636e")  # on time, late, open, overdue…
NEUTRAL_COLOURS = ("#0969da", "#8250df", "#1b7c83")  # counts that are neither good nor bad


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    value: int
    label: str  # what the bar is, for the title (read by screen readers) and the legend


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, float, str]]  # (x, y, text) of the categories on the left
    values: list[tuple[float, float, str]]  # (x, y, text) written at the end of each bar
    ticks: list[tuple[float, str]]  # (x, text) of the scale
    legend: list[tuple[str, str]]  # (colour, series name)
    plot_left: float
    plot_top: float
    plot_bottom: float
    title: str = ""


def nice_max(value: int) -> int:
    """The scale's end: 1, 2 or 5 times a power of ten, at least the largest value (and 1)."""
    value = max(int(value), 1)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(categories: list[str], series: list[tuple[str, list[int]]], *, title: str = "", width: int = 640,
              bar_height: int = 14, gap: int = 10, label_width: int = 170,
              colours: tuple[str, ...] = SERIES_COLOURS) -> Chart:
    """Horizontal grouped bars: one group per category (officer, kind…), one bar per series.
    Values that are not numbers (a service that did not answer) draw no bar."""
    values = [v for _, vs in series for v in vs if isinstance(v, int)]
    top = nice_max(max(values, default=0))
    plot_left, plot_top, right_margin = float(label_width), 8.0, 44.0
    plot_width = width - plot_left - right_margin
    group = bar_height * len(series) + gap
    height_of_groups = group * len(categories)
    bars, labels, texts = [], [], []
    for i, category in enumerate(categories):
        y0 = plot_top + i * group
        labels.append((plot_left - 6, y0 + bar_height * len(series) / 2 + 4, _clip(category, label_width)))
        for j, (name, vs) in enumerate(series):
            value = vs[i] if i < len(vs) else None
            if not isinstance(value, int):
                continue
            w = round(plot_width * value / top, 1)
            y = y0 + j * bar_height
            bars.append(Bar(plot_left, y, w, bar_height - 2, colours[j % len(colours)], value,
                            f"{category} — {name}: {value}"))
            if value:  # a zero is in the table; on the chart it would only clutter
                texts.append((plot_left + w + 4, y + bar_height - 4, str(value)))
    plot_bottom = plot_top + max(height_of_groups, group)
    steps = next(n for n in (4, 5, 2, 1) if top % n == 0)  # whole numbers on the scale
    ticks = [(round(plot_left + plot_width * k / steps, 1), _number(top * k / steps)) for k in range(steps + 1)]
    legend = [(colours[j % len(colours)], name) for j, (name, _) in enumerate(series)]
    return Chart(width=width, height=int(plot_bottom + 24 + (18 if len(series) > 1 else 0)), bars=bars, labels=labels,
                 values=texts, ticks=ticks, legend=legend if len(series) > 1 else [], plot_left=plot_left,
                 plot_top=plot_top, plot_bottom=plot_bottom, title=title)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}".replace(".", ",")


def _clip(text: str, width_px: int) -> str:
    limit = max(int(width_px / 6.5), 4)  # about 6.5 px a character at the chart's font size
    return text if len(text) <= limit else text[: limit - 1] + "…"


def officer_charts(table: OfficerTable) -> list[Chart]:
    names = [r["name"] for r in table.rows]
    if not names:
        return []
    charts = []
    if "intake" not in table.missing:
        charts.append(bar_chart(names, [("Đúng hạn", [r["on_time"] for r in table.rows]),
                                        ("Quá hạn", [r["late"] for r in table.rows]),
                                        ("Đang xử lý", [r["outstanding"] for r in table.rows]),
                                        ("Tồn quá hạn", [r["overdue"] for r in table.rows])],
                                title="Xử lý văn bản đến theo cán bộ"))
    if "archive" not in table.missing or "dispatch" not in table.missing:
        charts.append(bar_chart(names, [("Dự thảo đã soạn", [r["drafts_written"] for r in table.rows]),
                                        ("Hồ sơ đã đóng", [r["dossiers_closed"] for r in table.rows]),
                                        ("Hồ sơ đã nộp lưu", [r["dossiers_submitted"] for r in table.rows])],
                                title="Dự thảo và hồ sơ theo cán bộ", colours=NEUTRAL_COLOURS))
    return charts


def section_chart(section: Section) -> Chart | None:
    if not section.chart or not any(v for _, v in section.chart):
        return None
    return bar_chart([name for name, _ in section.chart], [("Số lượng", [v for _, v in section.chart])],
                     title=f"Biểu đồ — {section.heading}", bar_height=18, colours=NEUTRAL_COLOURS[:1])
