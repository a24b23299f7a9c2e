"""The portal alone, in process (httpx.ASGITransport), on the real store: its own database per
test (the `settings` fixture of tests/conftest.py). Pages that call other services are tested end
to end (test_portal_e2e.py). A module of its own (not conftest.py): tests import its helpers."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import httpx

from services.portal.entrypoints.app import definition
from shared.service import create_app

INITIAL = "DoiMatKhau@2026"
NEW_PASSWORD = "Mat-khau-moi-2026!"
HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = HIDDEN_CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@asynccontextmanager
async def running_portal(settings):
    app = create_app(definition, settings)
    async with app.router.lifespan_context(app):
        yield app


def browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test", follow_redirects=False)


async def sign_in(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    page = await client.get("/dang-nhap")
    assert page.status_code == 200
    return await client.post("/dang-nhap", data={"user": user, "password": password, "csrf_token": csrf_of(page.text)})


@asynccontextmanager
async def signed_in(app, user: str, *, password: str = INITIAL, new_password: str = NEW_PASSWORD):
    """A client signed in as `user`, past the forced first password change."""
    async with browser(app) as client:
        await _sign_in_changing(client, user, password, new_password)
        yield client


async def _sign_in_changing(client, user, password, new_password) -> None:
    answer = await sign_in(client, user, password)
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] == "/doi-mat-khau":
        form = await client.get("/doi-mat-khau")
        changed = await client.post("/doi-mat-khau", data={"old_password": password, "new_password": new_password,
                                                          "confirm_password": new_password, "csrf_token": csrf_of(form.text)})
        assert changed.status_code == 303, changed.text
