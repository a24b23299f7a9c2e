"""The monitoring configuration in deploy/ (issue 7 item 2, R-13) holds together: every metric an
alert or a dashboard queries is one our services export (or a known RabbitMQ/Prometheus one),
every required alert is there with its Vietnamese text for the VH-XH technical officer, the
dashboards are the ones the generator makes, and docker-compose mounts what Prometheus and
Grafana are configured to read. promtool is not installed: PromQL is checked lightly (balanced
brackets, known functions and keywords), not parsed."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SERVICES = ("gateway", "intake", "dispatch", "signing", "archive", "portal")
PORTS = {"gateway": 8101, "intake": 8102, "dispatch": 8103, "signing": 8104, "archive": 8105, "portal": 8106}

# Not ours, and known: Prometheus' own, prometheus_client's process collector, and the
# rabbitmq_prometheus plugin's per-object queue metrics (not installed here to collect from).
KNOWN_FOREIGN = {
    "up",
    "process_resident_memory_bytes", "process_cpu_seconds_total",
    "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages", "rabbitmq_queue_consumers",
    "rabbitmq_queue_messages_unacked",
}
FUNCTIONS = {
    "rate", "irate", "increase", "sum", "max", "min", "avg", "count", "histogram_quantile", "time", "abs",
    "clamp_min", "clamp_max", "topk", "bottomk", "max_over_time", "min_over_time", "avg_over_time", "absent",
    "label_replace", "vector", "scalar", "round", "deriv", "delta", "changes", "resets", "sort", "sort_desc",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
REQUIRED_ALERTS = {
    "VanthuServiceDown",               # a service down
    "VanthuQueueBackingUp",            # a queue backing up
    "VanthuDeadLetterQueueNotEmpty",   # anything in a dead-letter queue (RabbitMQ's view)
    "VanthuDeadLettersOpen",           # … and the dead letters kept in each service's store
    "VanthuAxisUnreachable", "VanthuAxisNoSuccessfulPoll",  # the axis unreachable
    "VanthuCertificateExpiringSoon",   # a certificate expiring within 30 days
    "VanthuFixityFailure",             # a fixity failure
    "VanthuIssuingOverdue",            # an outgoing document past its issuing deadline (R-4.2a)
}
VIETNAMESE = re.compile(r"[ăâđêôơưạảãáàệếềểễộốồổỗờớởỡợừứửữựịíìỉĩụúùủũỵýỳỷỹ]", re.IGNORECASE)


def exported_metric_names() -> set[str]:
    """Every sample name the services' processes can expose: what each app module registers in
    the default registry (imported here as each process imports it), families expanded to their
    samples (`_total`, `_bucket`, `_count`, `_sum`…)."""
    for service in SERVICES:
        importlib.import_module(f"services.{service}.entrypoints.app")
    importlib.import_module("shared.bus.dead_letters")
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - the registry's own index
        names.update(REGISTRY._collector_to_names[collector])  # noqa: SLF001
    return names


def strip_promql(expr: str) -> str:
    """The expression without string literals, label matchers, ranges and grouping label lists."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^{}]*\}", "", expr)
    expr = re.sub(r"\[[^\[\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r"\1", expr)
    return expr


def metric_names_in(expr: str) -> set[str]:
    stripped = strip_promql(expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        word = match.group(0)
        following = stripped[match.end():].lstrip()[:1]
        if following == "(":
            assert word in FUNCTIONS or word in KEYWORDS, f"unknown PromQL function {word!r} in {expr!r}"
            continue
        if word in KEYWORDS or word in FUNCTIONS:
            continue
        names.add(word)
    return names


def check_syntax(expr: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    assert text.count('"') % 2 == 0, f"unbalanced quotes in {expr!r}"
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack and stack[-1] == pairs[char], f"unbalanced {char!r} in {expr!r}"
            stack.pop()
    assert not stack, f"unclosed {stack} in {expr!r}"
    assert metric_names_in(expr), f"no metric in {expr!r}"


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((path.name, panel["title"], target["expr"]))
    return found


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_metric_names()


def test_the_checker_itself_finds_names_and_refuses_nonsense():
    assert metric_names_in('sum by (queue) (rate(vanthu_bus_consumed_total{queue=~"a\\\\.b"}[5m])) > 0') == {"vanthu_bus_consumed_total"}
    assert metric_names_in("time() - max(vanthu_axis_last_successful_poll_timestamp_seconds) > 600") == {
        "vanthu_axis_last_successful_poll_timestamp_seconds"}
    with pytest.raises(AssertionError):
        check_syntax("sum(rate(x[5m])")
    with pytest.raises(AssertionError):
        metric_names_in("ratee(x[5m])")


def test_our_metrics_are_exported_under_vanthu_names(exported):
    for name in ("vanthu_bus_consumed_total", "vanthu_bus_published_total", "vanthu_bus_handler_seconds_bucket",
                 "vanthu_documents_registered_total", "vanthu_documents_refused_total", "vanthu_documents_issued_total",
                 "vanthu_signing_signatures_total", "vanthu_axis_polls_total", "vanthu_gateway_packages_received_total",
                 "vanthu_gateway_send_attempts_total", "vanthu_axis_up", "vanthu_axis_last_successful_poll_timestamp_seconds",
                 "vanthu_store_ping_seconds_bucket", "vanthu_store_up", "vanthu_store_transaction_seconds_bucket",
                 "vanthu_token_available", "vanthu_certificate_days_left", "vanthu_fixity_open_alerts",
                 "vanthu_fixity_last_run_files", "vanthu_issuing_late_documents", "vanthu_handling_overdue_tasks",
                 "vanthu_dead_letters_open"):
        assert name in exported, name


def test_every_alert_is_well_formed_and_in_vietnamese(exported):
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    assert REQUIRED_ALERTS <= set(names), REQUIRED_ALERTS - set(names)
    for rule in rules:
        check_syntax(rule["expr"])
        unknown = metric_names_in(rule["expr"]) - exported - KNOWN_FOREIGN
        assert not unknown, f"{rule['alert']}: metrics nobody exports: {unknown}"
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        for field in ("summary", "description"):
            text = rule["annotations"][field]
            assert VIETNAMESE.search(text), f"{rule['alert']} {field} is not in Vietnamese: {text!r}"
            assert text.count("{{") == text.count("}}"), f"{rule['alert']} {field}: unbalanced template"


def test_required_alerts_watch_the_right_things():
    rules = {r["alert"]: r for r in alert_rules()}
    assert rules["VanthuServiceDown"]["expr"].startswith("up{") and rules["VanthuServiceDown"]["for"] == "1m"
    assert "rabbitmq_queue_messages_ready" in rules["VanthuQueueBackingUp"]["expr"]
    assert ".dlq" in rules["VanthuDeadLetterQueueNotEmpty"]["expr"]
    assert "vanthu_dead_letters_open" in rules["VanthuDeadLettersOpen"]["expr"]
    assert "vanthu_axis_up" in rules["VanthuAxisUnreachable"]["expr"] and rules["VanthuAxisUnreachable"]["for"] == "5m"
    assert "> 600" in rules["VanthuAxisNoSuccessfulPoll"]["expr"]
    assert "< 30" in rules["VanthuCertificateExpiringSoon"]["expr"]
    assert 'standing="overdue"' in rules["VanthuIssuingOverdue"]["expr"]


def test_every_dashboard_query_uses_exported_metrics(exported):
    exprs = dashboard_exprs()
    assert len(exprs) > 40
    for file, title, expr in exprs:
        check_syntax(expr)
        unknown = metric_names_in(expr) - exported - KNOWN_FOREIGN
        assert not unknown, f"{file} «{title}»: metrics nobody exports: {unknown}"


def test_the_dashboards_are_the_generators_and_well_placed():
    spec = importlib.util.spec_from_file_location("build_dashboards", DEPLOY / "grafana" / "build_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    assert set(files) == {"vanthu-health", "vanthu-flow", "vanthu-queues", "vanthu-signing", "vanthu-axis", "vanthu-archive"}
    for uid, board in module.DASHBOARDS.items():
        assert files[uid] == json.loads(json.dumps(board)), f"{uid}.json is stale: run deploy/grafana/build_dashboards.py"
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for name, board in files.items():
        assert board["uid"] == name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            assert panel["targets"], panel["title"]


def test_prometheus_scrapes_every_service_and_rabbitmq_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t: group["labels"]["service"] for group in jobs["vanthu"]["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{port}": name for name, port in PORTS.items()}
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"
    assert jobs["rabbitmq"]["static_configs"][0]["targets"] == ["rabbitmq:15692"]
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_docker_compose_mounts_what_prometheus_and_grafana_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    prometheus = compose["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    grafana = compose["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "vanthu.yml").read_text())["providers"][0]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana
    rabbit = compose["rabbitmq"]
    assert "./deploy/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro" in rabbit["volumes"]
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "15692" in rabbit["expose"]
