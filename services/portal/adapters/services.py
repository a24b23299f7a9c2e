"""Calls to the other services for the signed-in user: a short-lived token minted per call
(R-15.5: `Authorization: Bearer`, issuer `portal`), the service's URL from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.auth import PORTAL_ISSUER, TokenIssuer
from shared.config import Settings
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Caller:
    user: str
    role: str
    name: str = ""


class ServiceError(Exception):
    """A service answered with an error, or did not answer; `message_vi` is for the page."""

    def __init__(self, service: str, status: int, message_vi: str) -> None:
        super().__init__(f"{service}: {status} {message_vi}")
        self.service = service
        self.status = status
        self.message_vi = message_vi


SERVICE_NAMES_VI = {"gateway": "cổng kết nối trục", "intake": "tiếp nhận văn bản đến", "dispatch": "văn bản đi",
                    "signing": "ký số", "archive": "lưu trữ"}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict) and "problems" in detail:
        return " ".join(str(p) for p in detail["problems"])
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg')}" if isinstance(d, dict) else str(d)
                         for d in detail)
    return str(detail)


class Services:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.issuer = TokenIssuer(settings.auth_keys_dir, PORTAL_ISSUER)
        self.client = client or httpx.AsyncClient(timeout=settings.http_timeout_seconds)

    async def close(self) -> None:
        await self.client.aclose()

    def url(self, service: str, path: str) -> str:
        return self.settings.service_url(service).rstrip("/") + path

    async def request(self, caller: Caller, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.issuer.mint(caller.user, caller.role, caller.name)}"}
        try:
            response = await self.client.request(method, self.url(service, path), headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("service unreachable", service=service, path=path, error=str(exc))
            raise ServiceError(service, 503, f"Hệ thống {SERVICE_NAMES_VI.get(service, service)} không trả lời; hãy thử lại sau.") from exc
        if response.status_code >= 400:
            raise ServiceError(service, response.status_code, _detail(response))
        return response

    async def get(self, caller: Caller, service: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(caller, service, "GET", path, **kwargs)).json()

    async def post(self, caller: Caller, service: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(caller, service, "POST", path, **kwargs)).json()

    async def readiness(self, service: str) -> tuple[bool, dict]:
        """`/readyz` is open (no token): what the operator's status page shows."""
        try:
            response = await self.client.get(self.url(service, "/readyz"), timeout=5)
            return response.status_code == 200, response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return False, {"error": str(exc) or type(exc).__name__}
