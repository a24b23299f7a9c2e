"""structlog JSON logs with a correlation id that follows one document through every service.

The correlation id lives in a context variable: the consumer binds it from the message, the
unit of work copies it into every message it publishes, the relay puts it on the wire.
"""

from __future__ import annotations

import collections
import logging
import sys
import uuid
from contextvars import ContextVar

import structlog

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_SECRET_WORDS = ("pin", "password", "secret", "token_pin", "authorization")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def bind_correlation_id(correlation_id: str | None) -> None:
    _correlation_id.set(correlation_id)
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)


def _redact(_, __, event_dict):
    for key in list(event_dict):
        if any(word in key.lower() for word in _SECRET_WORDS):
            event_dict[key] = "***"
    return event_dict


# The last error-level events of this process, for the operator console (GET /ops/status).
RECENT_ERRORS: collections.deque[dict] = collections.deque(maxlen=50)
_KEPT_FIELDS = ("timestamp", "level", "event", "logger", "queue", "error", "reason", "correlation_id", "path", "service")


def _keep_errors(_, __, event_dict):
    if event_dict.get("level") in ("error", "critical", "exception"):
        RECENT_ERRORS.append({k: str(event_dict[k])[:1000] for k in _KEPT_FIELDS if event_dict.get(k) is not None})
    return event_dict


def recent_errors() -> list[dict]:
    """Newest first."""
    return list(reversed(RECENT_ERRORS))


def configure_logging(service: str, level: str = "INFO") -> None:
    shared_processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        _keep_errors,
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (uvicorn, aio-pika, pymongo) go through the same JSON renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        foreign_pre_chain=[*shared_processors, structlog.stdlib.add_logger_name],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "pymongo", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None):
    return structlog.get_logger(name)
