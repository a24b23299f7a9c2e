"""Prometheus metrics shared by every service (each process exposes them at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

PUBLISHED = Counter("vanthu_bus_published_total", "Messages published", ["exchange", "outcome"])
PUBLISH_SECONDS = Histogram("vanthu_bus_publish_seconds", "Time from publish to broker confirm")
CONSUMED = Counter("vanthu_bus_consumed_total", "Messages consumed", ["queue", "outcome"])
HANDLER_SECONDS = Histogram(
    "vanthu_bus_handler_seconds", "Handler time per message", ["queue"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_PENDING = Gauge("vanthu_outbox_pending", "Outbox messages not yet confirmed by the broker")
OUTBOX_OLDEST_SECONDS = Gauge("vanthu_outbox_oldest_pending_seconds", "Age of the oldest pending outbox message")
RELAY_FAILURES = Counter("vanthu_outbox_relay_failures_total", "Relay publish failures")
BROKER_UP = Gauge("vanthu_broker_connected", "1 when the service holds a broker connection")
