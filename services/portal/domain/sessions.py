"""Sign-in sessions as pure rules: random 32-byte ids of which only the SHA-256 is stored, an idle
timeout and an absolute lifetime, and a CSRF token per session."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "vanthu_session"
LOGIN_CSRF_COOKIE = "vanthu_login_csrf"  # before there is a session: the sign-in form's token
CSRF_FIELD = "csrf_token"
TOUCH_EVERY = dt.timedelta(seconds=60)  # last activity is written at most once a minute


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def session_key(session_id: str) -> str:
    """What is stored: the SHA-256 of the id, so a copy of the database opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Timeouts:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)


def expired(session: dict, now: dt.datetime, timeouts: Timeouts) -> str | None:
    """Why a session is over ('idle', 'absolute'), or None while it lasts."""
    if now - session["created_at"] >= timeouts.absolute:
        return "absolute"
    if now - session["last_seen_at"] >= timeouts.idle:
        return "idle"
    return None


def needs_touch(session: dict, now: dt.datetime) -> bool:
    return now - session["last_seen_at"] >= TOUCH_EVERY


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
