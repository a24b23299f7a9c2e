"""Prometheus metrics shared by every service (each process exposes them at /metrics)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from shared.logging import get_logger

PUBLISHED = Counter("vanthu_bus_published_total", "Messages published", ["exchange", "message_type", "outcome"])
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

# -- every service (issue 7, R-13) ---------------------------------------------------------------
_STORE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
STORE_PING_SECONDS = Histogram("vanthu_store_ping_seconds", "Round trip of a periodic ping to the store", buckets=_STORE_BUCKETS)
STORE_UP = Gauge("vanthu_store_up", "1 when the store answered the last periodic ping")
STORE_TRANSACTION_SECONDS = Histogram(
    "vanthu_store_transaction_seconds", "One unit of work's transaction, retries included", ["outcome"],
    buckets=_STORE_BUCKETS,
)
SERVICE_INFO = Gauge("vanthu_service_info", "Always 1; the labels say which service and version this process runs", ["service", "version"])
FACTS_REFRESH_FAILURES = Counter(
    "vanthu_status_refresh_failures_total", "Background refreshes of the operator's facts (and their gauges) that failed", ["facts"],
)

log = get_logger(__name__)

STORE_PING_INTERVAL_SECONDS = 15.0
FACTS_REFRESH_SECONDS = 30.0


async def probe_store(store: Any, *, interval: float = STORE_PING_INTERVAL_SECONDS) -> None:
    """Pings the store on a schedule: its latency (histogram) and whether it answered."""
    while True:
        started = time.perf_counter()
        ok = await store.ping()
        if ok:
            STORE_PING_SECONDS.observe(time.perf_counter() - started)
        STORE_UP.set(1 if ok else 0)
        await asyncio.sleep(interval)


def refreshed_every(facts: Callable[[Any], Awaitable[dict]], seconds: float = FACTS_REFRESH_SECONDS):
    """A background task calling a status-facts function on a schedule. The facts function sets
    its gauges as it computes the facts, so the console and /metrics read one source; gauges
    that need a query are refreshed here, never per scrape."""
    async def refresh(ctx: Any) -> None:
        while True:
            try:
                await facts(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed refresh leaves the last values
                FACTS_REFRESH_FAILURES.labels(facts.__name__).inc()
                log.warning("status facts refresh failed", facts=facts.__name__, error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(seconds)

    refresh.__name__ = f"refresh_{facts.__name__}"
    return refresh
