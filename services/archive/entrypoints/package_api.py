"""HTTP for dossier packages (BagIt, `domain/bag.py`; R-11.1, R-11.3).

- `GET /dossiers/{code}/export` → `application/zip`, `Content-Disposition: attachment; filename="<code>.zip"`;
  404 for an unknown dossier.
- `POST /dossiers/import?by=<user>` with the zip as the raw request body
  (`Content-Type: application/zip`, e.g. `curl --data-binary @dossier.zip -H 'Content-Type: application/zip'`)
  → 201 `{"code": ..., "records_added": [...], "records_already_here": [...], "package_sha256": ...}`;
  409 the dossier (or a document with other content) already exists; 422 an invalid package,
  with every reason in English and Vietnamese; 413 a body larger than the package limit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from services.archive.domain.bag import PackageError
from services.archive.handlers.packages import CHUNK, MAX_UNPACKED_BYTES, SPOOL_BYTES, import_dossier, write_package
from shared.service import ctx_of
from shared.auth import acting_user

router = APIRouter(tags=["archive packages"])


def _http(exc: PackageError) -> HTTPException:
    return HTTPException(exc.status, exc.as_dict())


def _chunks(spool: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK):
            yield chunk
    finally:
        spool.close()


@router.get("/dossiers/{code}/export")
async def export_package(code: str, request: Request) -> StreamingResponse:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        await write_package(ctx_of(request), code, spool)
    except PackageError as exc:
        spool.close()
        raise _http(exc) from exc
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    filename = f"{code}.zip"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return StreamingResponse(_chunks(spool), media_type="application/zip", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "Content-Length": str(size),
    })


@router.post("/dossiers/import", status_code=201)
async def import_package(request: Request, by: str | None = Query(None, min_length=1)) -> dict:
    ctx = ctx_of(request)
    limit = int(getattr(ctx.settings, "package_max_bytes", None) or MAX_UNPACKED_BYTES) + 64 * 1024**2
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, {"error": f"the package is larger than {limit} bytes",
                                          "loi": f"Gói lớn hơn {limit} byte"})
            spool.write(chunk)
        if received == 0:
            raise HTTPException(422, {"error": "send the package's zip as the request body",
                                      "loi": "Hãy gửi tệp zip của gói trong thân yêu cầu", "problems": []})
        spool.seek(0)
        try:
            return await import_dossier(ctx, spool, acting_user(request, by))
        except PackageError as exc:
            raise _http(exc) from exc
