"""The portal's own collections: `accounts` (one per user, `_id` = user name) and `sessions`
(`_id` = SHA-256 of the session id)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

ACCOUNTS = "accounts"
SESSIONS = "sessions"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[SESSIONS].create_index([("user", 1)])
    await db[SESSIONS].create_index([("expires_at", 1)])


async def get_account(db: AsyncDatabase, user: str, session=None) -> dict | None:
    return await db[ACCOUNTS].find_one({"_id": user}, session=session)


async def get_session(db: AsyncDatabase, key: str) -> dict | None:
    return await db[SESSIONS].find_one({"_id": key})


def public_account(account: dict) -> dict:
    """An account without its password hash (for pages and logs)."""
    return {k: v for k, v in account.items() if k != "password_hash"}
