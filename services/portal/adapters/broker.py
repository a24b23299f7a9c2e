"""RabbitMQ's management API, read for the operator's console (R-13): queue depths, consumers,
rates, and the connections each service holds (one per running process: its replicas).

Where: RABBITMQ_MANAGEMENT_URL (may carry user:password@), else AMQP_URL's host on port 15672;
credentials and the virtual host from AMQP_URL (tests run in a virtual host of their own).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

import httpx

from shared.config import Settings

QUEUE_COLUMNS = ",".join((
    "name", "type", "state", "messages", "messages_ready", "messages_unacknowledged", "consumers",
    "message_stats.publish_details.rate", "message_stats.deliver_get_details.rate", "message_stats.ack_details.rate",
))


class BrokerUnavailable(Exception):
    """The management API did not answer (or refused): the page says so and goes on."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    user: str
    password: str
    vhost: str


def endpoint(settings: Settings) -> Endpoint:
    amqp = urlparse(settings.amqp_url)
    vhost = unquote(amqp.path[1:]) if amqp.path and amqp.path != "/" else "/"
    user, password = unquote(amqp.username or "guest"), unquote(amqp.password or "guest")
    if settings.rabbitmq_management_url:
        given = urlparse(settings.rabbitmq_management_url)
        if given.username:
            user, password = unquote(given.username), unquote(given.password or "")
        netloc = given.hostname + (f":{given.port}" if given.port else "")
        url = f"{given.scheme}://{netloc}{given.path.rstrip('/')}"
    else:
        url = f"http://{amqp.hostname or '127.0.0.1'}:15672"
    return Endpoint(url, user, password, vhost)


def _rate(row: dict, name: str) -> float | None:
    details = (row.get("message_stats") or {}).get(f"{name}_details") or {}
    rate = details.get("rate")
    return float(rate) if rate is not None else None


class BrokerManagement:
    def __init__(self, settings: Settings, *, timeout: float = 5.0) -> None:
        self.endpoint = endpoint(settings)
        self.timeout = timeout

    async def _get(self, path: str, **params) -> object:
        e = self.endpoint
        try:
            async with httpx.AsyncClient(timeout=self.timeout, auth=(e.user, e.password)) as client:
                response = await client.get(f"{e.url}/api{path}", params=params or None)
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(f"{e.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise BrokerUnavailable(f"{e.url}{path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    async def queues(self) -> list[dict]:
        rows = await self._get(f"/queues/{quote(self.endpoint.vhost, safe='')}", columns=QUEUE_COLUMNS)
        return sorted(({
            "name": row.get("name"), "type": row.get("type"), "state": row.get("state"),
            "messages": int(row.get("messages") or 0), "ready": int(row.get("messages_ready") or 0),
            "unacked": int(row.get("messages_unacknowledged") or 0), "consumers": int(row.get("consumers") or 0),
            "publish_rate": _rate(row, "publish"), "deliver_rate": _rate(row, "deliver_get"), "ack_rate": _rate(row, "ack"),
        } for row in rows if isinstance(row, dict)), key=lambda q: q["name"] or "")

    async def connections_by_name(self) -> dict[str, int]:
        """Connections per client `connection_name` (each service process names itself)."""
        rows = await self._get(f"/vhosts/{quote(self.endpoint.vhost, safe='')}/connections",
                               columns="client_properties.connection_name")
        return dict(Counter(((row.get("client_properties") or {}).get("connection_name") or "?")
                            for row in rows if isinstance(row, dict)))

    async def overview(self) -> dict:
        found = await self._get("/overview", columns="rabbitmq_version,cluster_name,node")
        return found if isinstance(found, dict) else {}
