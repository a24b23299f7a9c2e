"""A request that meets the store away (restarting, unreachable) is answered 503 with a reason
and when to try again, not a 500 (the fault suite's store restart gave the clerk an HTTP 500 on
POST /outgoing). R-13: the user is told, the operator sees it in the log."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pymongo import AsyncMongoClient

from devstack.processes import free_port
from shared.refusals import STORE_AWAY_VI, declare_refusals


def test_a_store_that_does_not_answer_gives_503_with_retry_after():
    app = FastAPI()
    declare_refusals(app)
    port = free_port()  # nothing listens there

    @app.post("/outgoing")
    async def create() -> dict:
        client = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=300)
        try:
            await client["dispatch"]["outgoing"].insert_one({"subject": "Về việc kiểm thử"})
        finally:
            await client.close()
        return {"ok": True}

    @app.get("/fine")
    async def fine() -> dict:
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.post("/outgoing")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["detail"] == STORE_AWAY_VI
        assert http.get("/fine").status_code == 200
