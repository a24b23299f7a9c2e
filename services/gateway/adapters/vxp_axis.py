"""The national axis (VNPT VXP SDK protocol, standards.md §2.2) over HTTP: POST /<operation>,
parameters as HMAC-signed headers, ErrorCode "0" for success. The local axis speaks the same."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx

from services.gateway.adapters.axis_client import (
    AxisRejected,
    AxisUnavailable,
    PackageTooLarge,
    ReceivedItem,
    SendReceipt,
    SentItem,
)
from services.gateway.domain.evidence import HEADER_PREFIX_BYTES, JSON_OVERHEAD, encoded_limit
from shared.vxp import signed_headers

_DATA = re.compile(rb'"data"\s*:\s*"([A-Za-z0-9+/=]*)')


def _data_prefix(body: bytes) -> bytes:
    """The decodable start of getEdoc's base64 `data` in a cut-off answer."""
    match = _DATA.search(body)
    if match is None:
        return b""
    text = match.group(1)
    try:
        return base64.b64decode(text[: len(text) // 4 * 4])
    except ValueError:
        return b""


class VxpAxisClient:
    def __init__(self, endpoint: str, system_id: str, secret: str, *, timeout: float = 30.0) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._system_id = system_id
        self._secret = secret
        self._http = httpx.AsyncClient(timeout=timeout)

    async def _call(self, operation: str, params: dict[str, str], *, body: bytes | None = None, method: str = "POST") -> dict:
        headers = signed_headers(params, system_id=self._system_id, secret=self._secret)
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            response = await self._http.request(method, f"{self._endpoint}/{operation}", headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise AxisUnavailable(f"{operation}: {type(exc).__name__}: {exc}") from exc
        return self._payload(operation, response)

    def _payload(self, operation: str, response: httpx.Response) -> dict:
        if response.status_code >= 500 or response.status_code == 429:
            raise AxisUnavailable(f"{operation}: HTTP {response.status_code}")
        try:
            payload = response.json()
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if response.status_code >= 400:
                raise AxisRejected(f"{operation}: HTTP {response.status_code}", code=str(response.status_code)) from exc
            # a 2xx that is not the axis's JSON: a proxy's page, most likely; try again later
            raise AxisUnavailable(f"{operation}: HTTP {response.status_code}, not JSON") from exc
        code = str(payload.get("ErrorCode", "0" if response.is_success else response.status_code))
        if response.status_code >= 400 or code != "0" or payload.get("status") == "FAIL":
            raise AxisRejected(f"{operation}: {code} {payload.get('ErrorDesc', '')}".strip(), code=code)
        return payload

    async def list_received(self, kind: str) -> list[ReceivedItem]:
        payload = await self._call("getReceivedEdocList", {"servicetype": "eDoc", "messagetype": kind})
        return [
            ReceivedItem(doc_id=str(row["docId"]), from_code=row.get("from", ""), to_code=row.get("to", ""),
                         message_type=row.get("messageType", kind), created_time=row.get("created_time", ""),
                         status=row.get("status", ""))
            for row in payload.get("data") or []
        ]

    async def fetch(self, doc_id: str, *, max_bytes: int | None = None) -> bytes:
        params = {"docId": doc_id, "filePath": "."}
        if max_bytes is None:
            payload = await self._call("getEdoc", params)
        else:
            payload = await self._fetch_bounded(doc_id, params, max_bytes)
        try:
            return base64.b64decode(payload["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise AxisRejected(f"getEdoc {doc_id}: no base64 data") from exc

    async def _fetch_bounded(self, doc_id: str, params: dict[str, str], max_bytes: int) -> dict:
        """getEdoc read as a stream: the axis announces no size before the download, so the
        answer's Content-Length (when given) or the bytes read so far decide; past the limit
        only the first bytes (the header) are kept and the connection is dropped."""
        bound = encoded_limit(max_bytes)
        headers = signed_headers(params, system_id=self._system_id, secret=self._secret)
        try:
            async with self._http.stream("POST", f"{self._endpoint}/getEdoc", headers=headers) as response:
                declared = int(response.headers.get("content-length") or 0) or None
                too_large = declared is not None and declared > bound
                head = encoded_limit(HEADER_PREFIX_BYTES)
                chunks, read = [], 0
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    read += len(chunk)
                    if read > bound or (too_large and read >= head):
                        too_large = True
                        break
                body = b"".join(chunks)
        except httpx.HTTPError as exc:
            raise AxisUnavailable(f"getEdoc: {type(exc).__name__}: {exc}") from exc
        if too_large:
            size = (declared - JSON_OVERHEAD) * 3 // 4 if declared else None
            raise PackageTooLarge(doc_id, limit=max_bytes, size=size, prefix=_data_prefix(body))
        # Already decoded (aiter_bytes undoes any content-encoding): only the type is carried over.
        kept = httpx.Response(response.status_code, headers={"content-type": response.headers.get("content-type", "")}, content=body)
        return self._payload("getEdoc", kept)

    async def acknowledge(self, doc_id: str, status: str) -> None:
        await self._call("updateStatus", {"docId": doc_id, "status": status})

    async def send(self, from_code: str, to_codes: list[str], kind: str, data: bytes) -> SendReceipt:
        params = {"from": from_code, "to": json.dumps(to_codes), "servicetype": "eDoc", "messagetype": kind,
                  "hash-file": hashlib.sha256(data).hexdigest()}
        payload = await self._call("sendEdoc", params, body=data)
        return SendReceipt(doc_id=str(payload.get("DocId") or payload.get("docId")))

    async def list_sent(self, kind: str, doc_id: str | None = None) -> list[SentItem]:
        params = {"servicetype": "eDoc", "messagetype": kind}
        if doc_id:
            params["docId"] = doc_id
        payload = await self._call("getSentEdocList", params)
        return [
            SentItem(sender_doc_id=str(r.get("senderDocId", "")), receiver_doc_id=str(r.get("receiverDocId", "")),
                     from_code=r.get("fromCode", ""), to_code=r.get("toCode", ""), message_type=r.get("messageType", kind),
                     send_status=r.get("sendStatus", ""), receive_status=r.get("receiveStatus", ""), extra=r)
            for r in payload.get("data") or []
        ]

    async def agencies(self) -> list[dict]:
        payload = await self._call("getAgenciesList", {})
        return list(payload.get("data") or [])

    async def close(self) -> None:
        await self._http.aclose()
