"""Content by SHA-256: each service keeps the files it owns in its own GridFS bucket and
serves them at `GET /blobs/{sha256}`; messages carry a `BlobRef` (claim check) instead of bytes.

The receiver checks size and SHA-256 of what it fetched (R-4.1): a file changed anywhere on
the way is caught at the next hop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from shared.config import Settings
from shared.contracts.messages import BlobRef, ServiceName
from shared.db import Store


class BlobNotFound(Exception):
    pass


class BlobIntegrityError(Exception):
    pass


class BlobUnavailable(Exception):
    """The owning service could not be reached: retry later."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, store: Store, service: ServiceName, bucket: str = "blobs") -> None:
        self._bucket = AsyncGridFSBucket(store.db, bucket_name=bucket)
        self._files = store.db[f"{bucket}.files"]
        self.service = service

    async def ensure_indexes(self) -> None:
        await self._files.create_index("filename")

    async def put(self, data: bytes, *, media_type: str, name: str) -> BlobRef:
        """Store once per content (idempotent on SHA-256)."""
        digest = sha256_hex(data)
        if await self._files.find_one({"filename": digest}, projection={"_id": 1}) is None:
            await self._bucket.upload_from_stream(
                digest, data, metadata={"sha256": digest, "media_type": media_type, "name": name, "size": len(data)}
            )
        return BlobRef(sha256=digest, size=len(data), media_type=media_type, name=name, service=self.service)

    async def get(self, sha256: str) -> bytes:
        try:
            stream = await self._bucket.open_download_stream_by_name(sha256)
        except NoFile as exc:
            raise BlobNotFound(sha256) from exc
        data = await stream.read()
        if sha256_hex(data) != sha256:
            raise BlobIntegrityError(f"stored file {sha256} no longer matches its hash")
        return data

    async def exists(self, sha256: str) -> bool:
        return await self._files.find_one({"filename": sha256}, projection={"_id": 1}) is not None

    async def delete(self, sha256: str) -> int:
        """Destroy content (recall, R-1.2 refusals): every stored copy of it."""
        removed = 0
        async for row in self._files.find({"filename": sha256}, projection={"_id": 1}):
            await self._bucket.delete(row["_id"])
            removed += 1
        return removed


class BlobClient:
    """Fetches a BlobRef from the service that owns it and checks what arrived."""

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None,
                 token: Callable[[], str] | None = None) -> None:
        self._settings = settings
        self._client = client or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        self._token = token  # the calling service's own short-lived token

    def url(self, ref: BlobRef) -> str:
        return f"{self._settings.service_url(ref.service)}/blobs/{ref.sha256}"

    async def fetch(self, ref: BlobRef) -> bytes:
        try:
            headers = {"Authorization": f"Bearer {self._token()}"} if self._token else None
            response = await self._client.get(self.url(ref), headers=headers)
        except httpx.HTTPError as exc:
            raise BlobUnavailable(f"{ref.service} unreachable: {exc}") from exc
        if response.status_code == 404:
            raise BlobNotFound(f"{ref.service} has no blob {ref.sha256}")
        if response.status_code != 200:
            raise BlobUnavailable(f"{ref.service} answered {response.status_code}")
        data = response.content
        if len(data) != ref.size or sha256_hex(data) != ref.sha256:
            raise BlobIntegrityError(
                f"{ref.name} from {ref.service}: expected SHA-256 {ref.sha256} ({ref.size} B), "
                f"got {sha256_hex(data)} ({len(data)} B)"
            )
        return data

    async def close(self) -> None:
        await self._client.aclose()
