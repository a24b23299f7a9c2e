"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel lists below:
one place to change a query, and the JSON files stay consistent. Run it after a change:

    .venv/bin/python deploy/grafana/build_dashboards.py

Titles are in Vietnamese (the VH-XH technical officer reads them); queries use the metrics the
services export (shared/metrics.py and each service's handlers/*_health.py, link_state.py) and
RabbitMQ's rabbitmq_prometheus plugin. Gauges computed from the store are the same on every
replica: panels take max() of those; counters are per process: panels sum() their rates.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def _targets(queries: list[tuple[str, str]]) -> list[dict]:
    return [{"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(queries)]


def timeseries(title: str, queries: list[tuple[str, str]], *, unit: str = "short", description: str = "") -> dict:
    return {"type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
            "targets": _targets(queries),
            "fieldConfig": {"defaults": {"unit": unit, "custom": {"lineWidth": 1, "fillOpacity": 10}}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}}


def stat(title: str, queries: list[tuple[str, str]], *, unit: str = "short", thresholds: list[tuple[float | None, str]] | None = None,
         mappings: list[dict] | None = None, description: str = "") -> dict:
    steps = [{"value": value, "color": color} for value, color in (thresholds or [(None, "green")])]
    return {"type": "stat", "title": title, "description": description, "datasource": DATASOURCE,
            "targets": _targets(queries),
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps},
                                         "mappings": mappings or []}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "auto"}}


def table(title: str, queries: list[tuple[str, str]], *, unit: str = "short", description: str = "") -> dict:
    panel = {"type": "table", "title": title, "description": description, "datasource": DATASOURCE,
             "targets": [{**t, "format": "table", "instant": True} for t in _targets(queries)],
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {"showHeader": True},
             "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True, "job": True}}}]}
    return panel


UP_DOWN = [{"type": "value", "options": {"0": {"text": "NGỪNG", "color": "red"}, "1": {"text": "HOẠT ĐỘNG", "color": "green"}}}]
RED_BELOW_1 = [(None, "red"), (1, "green")]
RED_ABOVE_0 = [(None, "green"), (1, "red")]


def dashboard(uid: str, title: str, rows: list[list[dict]], *, description: str) -> dict:
    panels, y, pid = [], 0, 1
    for row in rows:
        width = 24 // len(row)
        height = 5 if all(p["type"] == "stat" for p in row) else 8
        for i, panel in enumerate(row):
            panels.append({**panel, "id": pid, "gridPos": {"x": i * width, "y": y, "w": width, "h": height}})
            pid += 1
        y += height
    return {"uid": uid, "title": title, "description": description, "tags": ["vanthu"], "timezone": "Asia/Ho_Chi_Minh",
            "editable": False, "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "templating": {"list": []}, "annotations": {"list": []},
            "panels": panels}


SERVICES = "gateway|intake|dispatch|signing|archive|portal"

DASHBOARDS = {
    "vanthu-health": dashboard("vanthu-health", "vanthu — Tình trạng dịch vụ", description="Mỗi dịch vụ có chạy, phiên bản, cơ sở dữ liệu và RabbitMQ", rows=[
        [stat(f"{name}", [(f'max(up{{job="vanthu", service="{name}"}})', name)], mappings=UP_DOWN, thresholds=RED_BELOW_1)
         for name in SERVICES.split("|")],
        [table("Phiên bản đang chạy", [("max by (service, version, instance) (vanthu_service_info)", "")]),
         timeseries("Kết nối RabbitMQ (1 = có)", [("min by (service) (vanthu_broker_connected)", "{{service}}")]),
         timeseries("Cơ sở dữ liệu trả lời (1 = có)", [("min by (service) (vanthu_store_up)", "{{service}}")])],
        [timeseries("Độ trễ ping cơ sở dữ liệu (p95)", [
            ("histogram_quantile(0.95, sum by (service, le) (rate(vanthu_store_ping_seconds_bucket[5m])))", "{{service}}")], unit="s"),
         timeseries("Thời gian giao dịch cơ sở dữ liệu (p95)", [
             ("histogram_quantile(0.95, sum by (service, le) (rate(vanthu_store_transaction_seconds_bucket[5m])))", "{{service}}")], unit="s"),
         timeseries("Giao dịch hủy / giây", [
             ('sum by (service) (rate(vanthu_store_transaction_seconds_count{outcome="aborted"}[5m]))', "{{service}}")])],
        [timeseries("Bộ nhớ tiến trình", [("sum by (service) (process_resident_memory_bytes{job=\"vanthu\"})", "{{service}}")], unit="bytes"),
         timeseries("CPU tiến trình", [("sum by (service) (rate(process_cpu_seconds_total{job=\"vanthu\"}[5m]))", "{{service}}")], unit="percentunit"),
         timeseries("Lỗi cập nhật số liệu vận hành / giây", [
             ("sum by (service, facts) (rate(vanthu_status_refresh_failures_total[5m]))", "{{service}} {{facts}}")])],
    ]),
    "vanthu-flow": dashboard("vanthu-flow", "vanthu — Luồng văn bản", description="Văn bản đến đăng ký, bị từ chối, văn bản đi phát hành, hạn xử lý và hạn phát hành", rows=[
        [stat("Đến đã đăng ký (24 giờ)", [("sum(increase(vanthu_documents_registered_total[24h]))", "")]),
         stat("Đến bị từ chối (24 giờ)", [("sum(increase(vanthu_documents_refused_total[24h]))", "")]),
         stat("Đi đã phát hành (24 giờ)", [("sum(increase(vanthu_documents_issued_total[24h]))", "")]),
         stat("Đi quá hạn phát hành (R-4.2a)", [('max(vanthu_issuing_late_documents{standing="overdue"})', "")], thresholds=RED_ABOVE_0),
         stat("Việc quá hạn xử lý của cán bộ", [("max(vanthu_handling_overdue_tasks)", "")], thresholds=[(None, "green"), (1, "orange")])],
        [timeseries("Văn bản đến đăng ký / giờ", [("sum by (source) (rate(vanthu_documents_registered_total[15m])) * 3600", "{{source}}")]),
         timeseries("Văn bản đến bị từ chối / giờ, theo lý do", [("sum by (reason) (rate(vanthu_documents_refused_total[15m])) * 3600", "{{reason}}")]),
         timeseries("Văn bản đi phát hành / giờ", [("sum by (urgency) (rate(vanthu_documents_issued_total[15m])) * 3600", "{{urgency}}")])],
        [timeseries("Kết quả tiếp nhận văn bản đến / giờ", [("sum by (outcome) (rate(vanthu_intake_documents_total[15m])) * 3600", "{{outcome}}")]),
         timeseries("Việc của cán bộ theo tình trạng", [("max by (standing) (vanthu_handling_tasks)", "{{standing}}")]),
         timeseries("Văn bản đi chậm phát hành", [("max by (standing) (vanthu_issuing_late_documents)", "{{standing}}")])],
        [timeseries("Thời gian xử lý một thông điệp (p95), theo hàng đợi", [
            ("histogram_quantile(0.95, sum by (queue, le) (rate(vanthu_bus_handler_seconds_bucket[5m])))", "{{queue}}")], unit="s")],
    ]),
    "vanthu-queues": dashboard("vanthu-queues", "vanthu — Hàng đợi và thư lỗi", description="Độ dài hàng đợi (RabbitMQ), thông điệp nhận/gửi, hộp thư đi, thư lỗi", rows=[
        [stat("Thư lỗi chưa xử lý", [("sum(max by (queue) (vanthu_dead_letters_open))", "")], thresholds=RED_ABOVE_0),
         stat("Thông điệp trong hàng đợi .dlq", [('sum(rabbitmq_queue_messages{queue=~".*\\\\.dlq"})', "")], thresholds=RED_ABOVE_0),
         stat("Hộp thư đi chờ gửi", [("sum(vanthu_outbox_pending)", "")], thresholds=[(None, "green"), (100, "orange")])],
        [timeseries("Thông điệp chờ theo hàng đợi (RabbitMQ)", [
            ('rabbitmq_queue_messages_ready{queue!~".*\\\\.dlq|vanthu\\\\.delay.*"}', "{{queue}}")]),
         timeseries("Số tiến trình nhận theo hàng đợi", [('rabbitmq_queue_consumers{queue!~".*\\\\.dlq|vanthu\\\\.delay.*"}', "{{queue}}")])],
        [timeseries("Thông điệp đã nhận / giây, theo hàng đợi và kết quả", [
            ("sum by (queue, outcome) (rate(vanthu_bus_consumed_total[5m]))", "{{queue}} {{outcome}}")]),
         timeseries("Thông điệp đã gửi / giây, theo loại", [
             ("sum by (service, message_type, outcome) (rate(vanthu_bus_published_total[5m]))", "{{service}} {{message_type}} {{outcome}}")])],
        [timeseries("Thư lỗi theo hàng đợi", [("max by (queue) (vanthu_dead_letters_open)", "{{queue}}"),
                                              ('rabbitmq_queue_messages{queue=~".*\\\\.dlq"}', "RabbitMQ {{queue}}")]),
         timeseries("Tuổi thông điệp cũ nhất chưa gửi", [("max by (service) (vanthu_outbox_oldest_pending_seconds)", "{{service}}")], unit="s"),
         timeseries("Gửi lỗi của hộp thư đi / giây", [("sum by (service) (rate(vanthu_outbox_relay_failures_total[5m]))", "{{service}}")])],
    ]),
    "vanthu-signing": dashboard("vanthu-signing", "vanthu — Ký số", description="Thiết bị ký số, chứng thư số, chữ ký đã ký", rows=[
        [stat("Thiết bị ký số", [("max(vanthu_token_available)", "")], mappings=UP_DOWN, thresholds=RED_BELOW_1),
         stat("Chứng thư sắp hết hạn nhất (ngày)", [("min(vanthu_certificate_days_left)", "")],
              thresholds=[(None, "red"), (30, "orange"), (90, "green")]),
         stat("Chữ ký (24 giờ)", [('sum(increase(vanthu_signing_signatures_total{outcome="signed"}[24h]))', "")]),
         stat("Từ chối ký (24 giờ)", [('sum(increase(vanthu_signing_signatures_total{outcome="refused"}[24h]))', "")],
              thresholds=[(None, "green"), (1, "orange")])],
        [table("Số ngày còn lại của chứng thư số", [("min by (kind, certificate) (vanthu_certificate_days_left)", "")]),
         timeseries("Chữ ký / giờ theo khóa, vai trò, mức", [
             ("sum by (key, role, level, outcome) (rate(vanthu_signing_signatures_total[15m])) * 3600", "{{key}} {{role}} {{level}} {{outcome}}")])],
        [timeseries("Thời gian ký một văn bản (p95)", [
            ("histogram_quantile(0.95, sum by (key, le) (rate(vanthu_signing_seconds_bucket[15m])))", "{{key}}")], unit="s"),
         timeseries("Thời gian kiểm tra thiết bị ký số", [("max(vanthu_token_check_seconds)", "PKCS#11")], unit="s")],
    ]),
    "vanthu-axis": dashboard("vanthu-axis", "vanthu — Trục liên thông", description="Kết nối trục, nhận và gửi gói tin", rows=[
        [stat("Trục liên thông", [("max(vanthu_axis_up)", "")], mappings=UP_DOWN, thresholds=RED_BELOW_1),
         stat("Từ lần đọc trục thành công", [("time() - max(vanthu_axis_last_successful_poll_timestamp_seconds)", "")], unit="s",
              thresholds=[(None, "green"), (120, "orange"), (600, "red")]),
         stat("Gói chờ gửi", [('max(vanthu_gateway_sends{state="waiting"})', "")], thresholds=[(None, "green"), (20, "orange")]),
         stat("Gói gửi lỗi", [('max(vanthu_gateway_sends{state="failed"})', "")], thresholds=RED_ABOVE_0)],
        [timeseries("Lần đọc trục / phút theo kết quả", [("sum by (outcome) (rate(vanthu_axis_polls_total[5m])) * 60", "{{outcome}}")]),
         timeseries("Gói nhận / giờ", [("sum by (kind, outcome) (rate(vanthu_gateway_packages_received_total[15m])) * 3600", "{{kind}} {{outcome}}")])],
        [timeseries("Lần gửi / giờ theo kết quả", [("sum by (kind, outcome) (rate(vanthu_gateway_send_attempts_total[15m])) * 3600", "{{kind}} {{outcome}}")]),
         timeseries("Gói gửi theo tình trạng", [("max by (state) (vanthu_gateway_sends)", "{{state}}")]),
         timeseries("Tuổi gói chờ gửi lâu nhất", [("max(vanthu_gateway_oldest_waiting_send_seconds)", "")], unit="s")],
    ]),
    "vanthu-archive": dashboard("vanthu-archive", "vanthu — Lưu trữ", description="Kiểm tra toàn vẹn (fixity), bảo quản chữ ký, tiếp nhận hồ sơ", rows=[
        [stat("Cảnh báo toàn vẹn đang mở", [("max(vanthu_fixity_open_alerts)", "")], thresholds=RED_ABOVE_0),
         stat("Lần kiểm tra gần nhất", [("max(vanthu_fixity_last_run_failed)", "")],
              mappings=[{"type": "value", "options": {"0": {"text": "ĐẠT", "color": "green"}, "1": {"text": "LỖI", "color": "red"}}}],
              thresholds=RED_ABOVE_0),
         stat("Từ lần kiểm tra xong gần nhất", [("time() - max(vanthu_fixity_last_finished_run_timestamp_seconds)", "")], unit="s",
              thresholds=[(None, "green"), (2 * 86400, "orange")]),
         stat("Chữ ký lỗi chuỗi chứng thư", [("max(vanthu_preservation_problems)", "")], thresholds=RED_ABOVE_0)],
        [timeseries("Tệp của lần kiểm tra gần nhất theo kết quả", [("max by (outcome) (vanthu_fixity_last_run_files)", "{{outcome}}")]),
         timeseries("Tệp đã đọc lại / giờ", [("sum by (outcome) (rate(vanthu_fixity_files_checked_total[1h])) * 3600", "{{outcome}}")])],
        [timeseries("Dấu thời gian lưu trữ đã thêm (B-LTA) / ngày", [("sum(rate(vanthu_preservation_timestamps_added_total[1d])) * 86400", "")]),
         timeseries("Bản lưu chờ dấu thời gian mới", [("max(vanthu_preservation_pending)", "")]),
         timeseries("Bản lưu nhận / giờ", [('sum by (outcome) (rate(vanthu_bus_consumed_total{queue=~"archive\\\\..*"}[15m])) * 3600', "{{outcome}}")])],
    ]),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for uid, board in DASHBOARDS.items():
        (OUT / f"{uid}.json").write_text(json.dumps(board, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(OUT / f"{uid}.json")


if __name__ == "__main__":
    main()
