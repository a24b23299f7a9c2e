"""Refusing bad input with a clear 4xx, the same way in every service (hostile input, issue 7 item 8).

A number too large for the store (BSON keeps 8-byte integers) or for a date (a year, a number
of days) raises OverflowError deep in a handler; it is the caller's input, so it is a 422 with
that reason, not a 500 (found by schemathesis: `/register/44824788260684923393802240`,
`/dossiers/due-for-submission?within_days=188798679`).

The 422 answer as the services really give it, in every OpenAPI:

FastAPI declares 422 as its own validation error (`detail`: a list of field errors). Our routes
also refuse input with a reason of their own: `HTTPException(422, "…")` (a sentence, often
Vietnamese for the user) or `{"problems": [...]}` / `{"error": ...}`. The schema says so, so a
client — and schemathesis — can rely on it instead of meeting an undeclared shape."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure

log = structlog.get_logger()
OUT_OF_RANGE_VI = "Giá trị số vượt quá giới hạn cho phép."
STORE_AWAY_VI = ("Kho dữ liệu tạm thời không truy cập được; yêu cầu có thể chưa được ghi nhận. "
                 "Xin thử lại sau ít giây (xem lại danh sách trước khi gửi lại).")
STORE_RETRY_AFTER_SECONDS = 5


def declare_refusals(app: FastAPI) -> None:
    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
        log.info("input out of range", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": f"{OUT_OF_RANGE_VI} ({exc})"}, status_code=422)

    @app.exception_handler(ConnectionFailure)
    async def store_away(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # The store restarting or unreachable is not the caller's fault and not a bug: 503 and when
        # to try again. "May not be recorded": a commit cut off mid-way has an unknown outcome.
        log.warning("store unreachable during a request", path=request.url.path, error=str(exc)[:300])
        return JSONResponse({"detail": STORE_AWAY_VI, "retry_after_seconds": STORE_RETRY_AFTER_SECONDS},
                            status_code=503, headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)})

    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error and "detail" in error.get("properties", {}):
            fields = error["properties"]["detail"]
            error["properties"]["detail"] = {
                "title": "Detail",
                "description": "the fields that failed validation, or the service's reason for the refusal",
                "anyOf": [{k: v for k, v in fields.items() if k != "title"}, {"type": "string"}, {"type": "object"}],
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
