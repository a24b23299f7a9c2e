"""What every service process is made of: a FastAPI app (`/healthz`, `/readyz`, `/metrics`,
`/blobs/{sha256}` and the service's own routes), its consumers, the outbox relay and its
background workers, all started by one lifespan.

The HTTP side comes up even while the broker is away (`/readyz` says 503 and why); the broker
connection is retried in the background and the consumers start once it is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import aio_pika
import uvicorn
from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.audit_chain import AuditChainer
from shared import ops_api
from shared.auth import BLOB_RULE, AccessRules, TokenIssuer, authorizer, missing_rules
from shared.blobs import BlobClient, BlobIntegrityError, BlobNotFound, BlobStore
from shared.bus import dead_letters, topology
from shared.bus.consumer import Delivery, QueueConsumer, Reject
from shared.bus.outbox import OutboxRelay
from shared.bus.publisher import ConfirmedPublisher
from shared.config import Settings, get_settings
from shared.contracts.base import Message
from shared.db import Store, bind_audit_origin, wait_for_store
from shared.logging import configure_logging, get_logger
from shared.metrics import BROKER_UP, SERVICE_INFO, probe_store
from shared.refusals import declare_refusals

log = get_logger(__name__)


@dataclass
class ServiceContext:
    """Everything a handler or a route may use; built once per process."""

    name: str
    settings: Settings
    store: Store
    blobs: BlobStore
    blob_client: BlobClient
    extras: dict[str, Any] = field(default_factory=dict)
    connection: AbstractRobustConnection | None = None
    publisher: ConfirmedPublisher | None = None
    relay: OutboxRelay | None = None
    topology_ready: bool = False


async def stop_tasks(tasks: list[asyncio.Task], *, grace_seconds: float = 10.0, every: float = 0.5) -> list[str]:
    """Cancels the background tasks and waits for them; cancels again those still running.

    PyMongo's async driver can swallow a cancellation that lands inside a command (about 1 in
    300 cancels mid-`ping` here): the task then goes back to its loop's sleep and a single
    cancel() + gather() waits for ever, so a stop or a test hung. The repeated cancel reaches it
    at the sleep. Returns the names of tasks that still would not stop (logged, left behind)."""
    pending = {task for task in tasks if not task.done()}
    deadline = asyncio.get_running_loop().time() + grace_seconds
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        _done, pending = await asyncio.wait(pending, timeout=min(every, left))
    stuck = sorted(task.get_name() for task in pending)
    if stuck:
        log.warning("background tasks would not stop", tasks=stuck)
    for task in tasks:  # retrieve outcomes so asyncio does not warn of unretrieved exceptions
        if task.done() and not task.cancelled():
            task.exception()
    return stuck


MessageHandler = Callable[[Any, Delivery, ServiceContext], Awaitable[None]]
BackgroundTask = Callable[[ServiceContext], Awaitable[None]]
Hook = Callable[[ServiceContext], Awaitable[None]]
ReadinessCheck = Callable[[ServiceContext], Awaitable[tuple[str, bool]]]
# Facts for the operator (GET /ops/status, the portal's console): e.g. the axis link, the token.
StatusFacts = Callable[[ServiceContext], Awaitable[dict[str, Any]]]


@dataclass
class ServiceDefinition:
    name: str
    handlers: dict[type[Message], MessageHandler] = field(default_factory=dict)
    routers: list[APIRouter] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    readiness: list[ReadinessCheck] = field(default_factory=list)  # beyond store and broker
    status: list[StatusFacts] = field(default_factory=list)  # what the operator console shows
    # /ops/… for the operator (shared/ops_api.py); the portal reads its own in process instead.
    operator_api: bool = True
    title: str = ""
    # Who may call which route: the service's `domain/access.py`. Every route needs one.
    access: AccessRules = field(default_factory=dict)
    # How a caller is recognised; default: the bearer token (shared/auth.py). The portal's is
    # its sign-in session cookie. Called with (rules, settings), returns a FastAPI dependency.
    guard: Callable[[AccessRules, Settings], Callable[..., Awaitable[Any]]] | None = None


def _dispatcher(definition: ServiceDefinition, ctx: ServiceContext):
    async def dispatch(delivery: Delivery) -> None:
        handler = definition.handlers.get(type(delivery.message))
        if handler is None:
            raise Reject(f"{definition.name} has no handler for {delivery.message.type_name}")
        bind_audit_origin(f"bus:{delivery.queue}")  # "from where" of the audit entries it writes
        await handler(delivery.message, delivery, ctx)

    return dispatch


async def _connect_bus(definition: ServiceDefinition, ctx: ServiceContext, consumers: list[QueueConsumer]) -> None:
    settings = ctx.settings
    delay = 0.5
    while True:
        try:
            connection = await aio_pika.connect_robust(settings.amqp_url, client_properties={"connection_name": ctx.name})
            break
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            BROKER_UP.set(0)
            log.warning("broker unreachable, retrying", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15)
    ctx.connection = connection
    BROKER_UP.set(1)
    connection.reconnect_callbacks.add(lambda *_: BROKER_UP.set(1))
    connection.close_callbacks.add(lambda *_: BROKER_UP.set(0))
    async with connection.channel() as channel:
        await topology.declare(channel)
    ctx.topology_ready = True
    ctx.publisher = ConfirmedPublisher(
        connection, window=settings.bus_publish_window, timeout=settings.bus_publish_timeout_seconds
    )
    ctx.relay = OutboxRelay(ctx.store, ctx.publisher)
    dispatch = _dispatcher(definition, ctx)
    for spec in topology.TOPOLOGY.for_service(definition.name):
        consumer = QueueConsumer(
            connection, ctx.publisher, spec, dispatch,
            prefetch=settings.bus_prefetch, max_retries=settings.bus_max_retries,
        )
        await consumer.start()
        consumers.append(consumer)
    log.info("bus ready", queues=[c.spec.name for c in consumers])
    # Its own DLQs into the store, for the operator (shared/bus/dead_letters.py).
    keeper = dead_letters.DeadLetterKeeper(connection, ctx.store, definition.name)
    await keeper.start()
    consumers.append(keeper)  # type: ignore[arg-type]  (stopped with them)
    await ctx.relay.run()


def create_app(definition: ServiceDefinition, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(definition.name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        store = Store(settings.mongodb_url, settings.database_name(definition.name), app_name=definition.name,
                      slow_command_ms=settings.store_slow_command_ms)
        await wait_for_store(store)
        await store.ensure_indexes()
        blobs = BlobStore(store, definition.name)  # type: ignore[arg-type]
        await blobs.ensure_indexes()
        issuer = TokenIssuer(settings.auth_keys_dir, definition.name)
        ctx = ServiceContext(definition.name, settings, store, blobs, BlobClient(settings, token=issuer.service_token))
        ctx.extras["token_issuer"] = issuer
        ctx.extras["started_at"] = ops_api.started_now()
        await dead_letters.ensure_indexes(store)
        app.state.ctx = ctx
        for hook in definition.on_startup:
            await hook(ctx)
        consumers: list[QueueConsumer] = []
        tasks = [asyncio.create_task(_connect_bus(definition, ctx, consumers), name="bus")]
        tasks += [asyncio.create_task(task(ctx), name=task.__name__) for task in definition.background]
        tasks.append(asyncio.create_task(dead_letters.refresh_gauge_forever(store, definition.name), name="dead_letters_gauge"))
        tasks.append(asyncio.create_task(probe_store(store), name="store_probe"))  # vanthu_store_* (R-13)
        # Every service seals its own audit log into the hash chain, after commit.
        chainer = AuditChainer(store)
        tasks.append(asyncio.create_task(chainer.run(), name="audit_chain"))
        log.info("service started", service=definition.name)
        try:
            yield
        finally:
            for consumer in consumers:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            if ctx.relay:
                ctx.relay.stop()
            chainer.stop()
            await stop_tasks(tasks)
            for hook in definition.on_shutdown:
                with contextlib.suppress(Exception):
                    await hook(ctx)
            if ctx.connection:
                with contextlib.suppress(Exception):
                    await ctx.connection.close()
            await ctx.blob_client.close()
            await store.close()

    app = FastAPI(title=definition.title or f"vanthu {definition.name}", lifespan=lifespan)
    SERVICE_INFO.labels(service=definition.name, version=_version()).set(1)
    app.add_middleware(_AuditOrigin)
    rules = {**BLOB_RULE, **(ops_api.OPS_RULES if definition.operator_api else {}), **definition.access}
    guard = definition.guard or (lambda rules, settings: authorizer(rules, settings.auth_keys_dir))
    authorize = Depends(guard(rules, settings))

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok", "service": definition.name}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        ctx: ServiceContext = request.app.state.ctx
        store_ok = await ctx.store.ping()
        broker_ok = bool(ctx.connection and not ctx.connection.is_closed and ctx.topology_ready)
        extra = dict([await check(ctx) for check in definition.readiness])
        ready = store_ok and broker_ok and all(extra.values())
        return JSONResponse(
            {"ready": ready, "store": store_ok, "broker": broker_ok, **extra, "service": definition.name},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/blobs/{sha256}", tags=["blobs"], dependencies=[authorize])
    async def get_blob(sha256: str, request: Request) -> Response:
        ctx: ServiceContext = request.app.state.ctx
        try:
            data = await ctx.blobs.get(sha256)
        except BlobNotFound:
            raise HTTPException(404, f"no blob {sha256}")
        except BlobIntegrityError as exc:
            raise HTTPException(500, str(exc))
        return Response(data, media_type="application/octet-stream")

    routers = [*([ops_api.router_for(definition)] if definition.operator_api else []), *definition.routers]
    for router in routers:
        app.include_router(router, dependencies=[authorize])
    included = [route for router in routers for route in router.routes]
    if missing := missing_rules([*app.routes, *included], rules):
        raise RuntimeError(f"{definition.name}: routes without an access rule (domain/access.py): {missing}")
    declare_refusals(app)  # 422 carries a reason of the service's own too (shared/refusals.py)
    return app


def _version() -> str:
    try:
        return importlib.metadata.version("vanthu")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _AuditOrigin:
    """Binds the client's address as the "from where" of audit entries written by a request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            bind_audit_origin(f"http:{client[0]}" if client else "http")
        await self.app(scope, receive, send)


def ctx_of(request: Request) -> ServiceContext:
    return request.app.state.ctx


def serve(definition: ServiceDefinition) -> None:
    settings = get_settings()
    url = urlparse(settings.service_url(definition.name))
    import os

    host = os.environ.get("BIND_HOST", url.hostname or "127.0.0.1")
    # A replica beside the first one listens on its own port (BIND_PORT); the others keep
    # calling the service's URL (a load balancer in production, the first replica here).
    port = int(os.environ.get("BIND_PORT") or url.port or 80)
    uvicorn.run(
        create_app(definition, settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
