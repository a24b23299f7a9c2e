"""Request signing of the national axis SDK (VNPT VXP, standards.md §2.2): parameters travel
as `XroadVnpt-<name>` headers, and the JSON of those headers is HMAC-SHA256-signed with the
system's secret. Used by the gateway's axis client and by the local axis that checks it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from shared.clock import VN_TZ

PREFIX = "XroadVnpt-"
VERSION = "3.0.201608"
USER_AGENT = "JAVASDKAgent/1.0.0 XRoad/VPCP"
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
TIMESTAMP_FORMAT = "%d%m%YT%H%M%S"


class VxpAuthError(Exception):
    pass


def format_timestamp(moment: dt.datetime) -> str:
    # SDK: ddMMyyyy'T'HHmmss+SSSS (the "+SSSS" is milliseconds, zero-padded to four)
    local = moment.astimezone(VN_TZ)
    return f"{local.strftime(TIMESTAMP_FORMAT)}+{local.microsecond // 1000:04d}"


def parse_timestamp(raw: str) -> dt.datetime:
    stamp, _, _millis = raw.partition("+")
    return dt.datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=VN_TZ)


def _signature(sign_header: str, secret: str) -> str:
    return hmac.new(secret.encode(), sign_header.encode(), hashlib.sha256).hexdigest()


def signed_headers(logical: Mapping[str, str], *, system_id: str, secret: str, now: dt.datetime | None = None) -> dict[str, str]:
    values = {"systemid": system_id, "timestamp": format_timestamp(now or dt.datetime.now(VN_TZ)), **logical}
    prefixed = {f"{PREFIX}{name}": str(value) for name, value in values.items()}
    # ASCII JSON: the signed text must travel unchanged in a (latin-1) HTTP header.
    sign_header = json.dumps(prefixed, ensure_ascii=True, separators=(",", ":"))
    headers = {
        **{k: _ascii_header(v) for k, v in prefixed.items()},
        f"{PREFIX}sign-header-key": ";".join(prefixed),
        f"{PREFIX}sign-header": sign_header,
        f"{PREFIX}hash-header": _signature(sign_header, secret),
        f"{PREFIX}version": VERSION,
        "User-Agent": USER_AGENT,
    }
    return headers


def _ascii_header(value: str) -> str:
    # HTTP headers are latin-1; Vietnamese text (rare in parameters) is sent JSON-escaped
    # (\uXXXX); the signed JSON carries the real value.
    return value if value.isascii() else json.dumps(value)[1:-1]


def verify_headers(headers: Mapping[str, str], secrets_by_system: Mapping[str, str], *,
                   now: dt.datetime | None = None) -> tuple[str, dict[str, str]]:
    """Checks the signature; returns (system id, logical parameters without the prefix)."""
    lower = {k.lower(): v for k, v in headers.items()}
    sign_header = lower.get(f"{PREFIX}sign-header".lower())
    signature = lower.get(f"{PREFIX}hash-header".lower())
    if not sign_header or not signature:
        raise VxpAuthError("missing XroadVnpt-sign-header / XroadVnpt-hash-header")
    try:
        signed = json.loads(sign_header)
    except json.JSONDecodeError as exc:
        raise VxpAuthError("XroadVnpt-sign-header is not JSON") from exc
    system_id = signed.get(f"{PREFIX}systemid")
    secret = secrets_by_system.get(system_id or "")
    if secret is None:
        raise VxpAuthError(f"unknown system {system_id!r}")
    if not hmac.compare_digest(_signature(sign_header, secret), signature):
        raise VxpAuthError("signature does not match")
    for name, value in signed.items():  # each signed value must be the one sent
        if lower.get(name.lower()) is not None and lower[name.lower()] != _ascii_header(value):
            raise VxpAuthError(f"header {name} differs from the signed value")
    try:
        stamp = parse_timestamp(signed.get(f"{PREFIX}timestamp", ""))
    except ValueError as exc:
        raise VxpAuthError("bad timestamp") from exc
    if abs((now or dt.datetime.now(VN_TZ)) - stamp) > MAX_CLOCK_SKEW:
        raise VxpAuthError("timestamp outside the allowed clock skew")
    logical = {name[len(PREFIX):]: value for name, value in signed.items() if name.startswith(PREFIX)}
    return system_id, logical
