"""Accounts and sessions as use cases: seeding from STAFF_FILE, signing in (Argon2id, lock-out),
signing out, changing the password (R-15.2), and the session check behind every page. Every
account change and every sign-in, sign-out and failure is written to the audit log in the same
transaction (R-4.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pymongo.errors import DuplicateKeyError

from services.portal.adapters import repository as repo
from services.portal.domain import accounts as rules
from services.portal.domain import sessions as session_rules
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.logging import get_logger
from shared.service import ServiceContext
from shared.staff import load_staff

log = get_logger(__name__)
HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)
# Verified when the user is unknown, so a wrong user name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("không-phải-mật-khẩu-của-ai")


class SignInRefused(Exception):
    def __init__(self, message_vi: str, outcome: rules.Outcome) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.outcome = outcome


class PasswordRefused(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # for the cookie only; never stored
    csrf_token: str
    account: dict


def policy(ctx: ServiceContext) -> rules.LockoutPolicy:
    return rules.LockoutPolicy(ctx.settings.portal_lockout_attempts, ctx.settings.portal_lockout_minutes)


def timeouts(ctx: ServiceContext) -> session_rules.Timeouts:
    return session_rules.Timeouts(idle=dt.timedelta(minutes=ctx.settings.portal_session_idle_minutes),
                                  absolute=dt.timedelta(hours=ctx.settings.portal_session_absolute_hours))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def password_matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return HASHER.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


# ---- seeding ---------------------------------------------------------------------------------


async def seed_accounts(ctx: ServiceContext) -> list[str]:
    """Accounts for the staff of STAFF_FILE not yet present, with the initial password and a
    forced change at first sign-in. Existing accounts are left as they are."""
    staff = load_staff(ctx.settings.staff_file)
    db = ctx.store.db
    present = {a["_id"] for a in await db[repo.ACCOUNTS].find({}, projection={"_id": 1}).to_list()}
    initial = ctx.settings.portal_initial_password.get_secret_value()
    created = []
    for member in staff.members.values():
        if member.user in present:
            continue
        account = {
            "_id": member.user, "name": member.name, "role": member.role.value, "position": member.position,
            "password_hash": await hash_password(initial), "must_change_password": True,
            "failed_attempts": 0, "locked_until": None, "created_at": utcnow(), "password_changed_at": None,
        }

        async def work(uow: UnitOfWork, account=account) -> None:
            await uow.db[repo.ACCOUNTS].insert_one(account, session=uow.session)
            uow.audit("account.created", subject_type="account", subject_id=account["_id"], actor="system:portal",
                      details={"role": account["role"], "name": account["name"], "position": account["position"],
                               "source": "STAFF_FILE", "must_change_password": True})

        try:
            await ctx.store.transaction(work)
            created.append(member.user)
        except DuplicateKeyError:  # another replica seeded it first
            pass
    if created:
        log.info("accounts seeded", users=created)
    return created


# ---- signing in and out ----------------------------------------------------------------------


async def sign_in(ctx: ServiceContext, user: str, password: str, *, user_agent: str = "") -> SignedIn:
    user = user.strip()
    account = await repo.get_account(ctx.store.db, user) if user else None
    if account is None:
        await password_matches(_DUMMY_HASH, password)

        async def unknown(uow: UnitOfWork) -> None:
            uow.audit("signin.failed", subject_type="account", subject_id=user[:100] or "-", actor=f"user:{user[:100]}",
                      details={"reason": "unknown_user"})

        await ctx.store.transaction(unknown)
        raise SignInRefused(rules.message_vi(rules.Outcome.UNKNOWN_USER), rules.Outcome.UNKNOWN_USER)

    now = utcnow()
    if until := rules.locked(account, now):
        async def refused(uow: UnitOfWork) -> None:
            uow.audit("signin.refused_locked", subject_type="account", subject_id=user, actor=f"user:{user}",
                      details={"locked_until": until.isoformat()})

        await ctx.store.transaction(refused)
        raise SignInRefused(rules.message_vi(rules.Outcome.LOCKED, until=until), rules.Outcome.LOCKED)

    if not await password_matches(account["password_hash"], password):
        lockout = policy(ctx)

        async def failed(uow: UnitOfWork) -> tuple[dict, rules.Outcome]:
            current = await repo.get_account(uow.db, user, session=uow.session) or account
            changes, outcome = rules.after_failure(current, utcnow(), lockout)
            await uow.db[repo.ACCOUNTS].update_one({"_id": user}, {"$set": changes}, session=uow.session)
            uow.audit("signin.failed", subject_type="account", subject_id=user, actor=f"user:{user}",
                      details={"reason": "wrong_password", "failed_attempts": changes.get("failed_attempts")})
            if outcome == rules.Outcome.LOCKED_NOW:
                uow.audit("account.locked", subject_type="account", subject_id=user, actor="system:portal",
                          details={"locked_until": changes["locked_until"].isoformat(), "after_failures": lockout.attempts})
            return changes, outcome

        changes, outcome = await ctx.store.transaction(failed)
        left = lockout.attempts - int(changes.get("failed_attempts") or 0)
        raise SignInRefused(rules.message_vi(outcome, until=changes.get("locked_until"), left=left), outcome)

    session_id, csrf = session_rules.new_session_id(), session_rules.new_csrf_token()
    key = session_rules.session_key(session_id)
    limits = timeouts(ctx)
    rehash = await hash_password(password) if HASHER.check_needs_rehash(account["password_hash"]) else None

    async def signed_in(uow: UnitOfWork) -> None:
        await uow.db[repo.SESSIONS].insert_one(
            {"_id": key, "user": user, "csrf": csrf, "created_at": now, "last_seen_at": now,
             "expires_at": now + limits.absolute, "user_agent": user_agent[:300]}, session=uow.session)
        changes = {"failed_attempts": 0, "locked_until": None, "last_sign_in_at": now,
                   "previous_sign_in_at": account.get("last_sign_in_at")}
        if rehash:
            changes["password_hash"] = rehash
        await uow.db[repo.ACCOUNTS].update_one({"_id": user}, {"$set": changes}, session=uow.session)
        uow.audit("signin", subject_type="account", subject_id=user, actor=f"user:{user}",
                  details={"session": key[:16], "must_change_password": bool(account.get("must_change_password"))})

    await ctx.store.transaction(signed_in)
    return SignedIn(session_id, csrf, repo.public_account(account))


async def sign_out(ctx: ServiceContext, session: dict, *, reason: str = "signout") -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.db[repo.SESSIONS].delete_one({"_id": session["_id"]}, session=uow.session)
        uow.audit("signout" if reason == "signout" else "session.expired", subject_type="account",
                  subject_id=session["user"], actor=f"user:{session['user']}" if reason == "signout" else "system:portal",
                  details={"session": session["_id"][:16], "reason": reason})

    await ctx.store.transaction(work)


async def current_session(ctx: ServiceContext, session_id: str | None) -> tuple[dict, dict] | None:
    """The live session and its account for a cookie value, or None (an expired one is ended)."""
    if not session_id or len(session_id) > 200:
        return None
    db = ctx.store.db
    session = await repo.get_session(db, session_rules.session_key(session_id))
    if session is None:
        return None
    now = utcnow()
    if why := session_rules.expired(session, now, timeouts(ctx)):
        await sign_out(ctx, session, reason=why)
        return None
    account = await repo.get_account(db, session["user"])
    if account is None:
        return None
    if session_rules.needs_touch(session, now):
        await db[repo.SESSIONS].update_one({"_id": session["_id"]}, {"$set": {"last_seen_at": now}})
    return session, account


# ---- the password (R-15.2) ---------------------------------------------------------------------


async def change_password(ctx: ServiceContext, session: dict, account: dict, *, old: str, new: str, confirm: str) -> None:
    user = account["_id"]
    problems = rules.password_problems(new, user=user, old=old, confirm=confirm)
    old_ok = await password_matches(account["password_hash"], old)
    if not old_ok:
        problems.insert(0, "Mật khẩu hiện tại không đúng.")
    if problems:
        async def refused(uow: UnitOfWork) -> None:
            uow.audit("account.password_change_refused", subject_type="account", subject_id=user, actor=f"user:{user}",
                      details={"old_password_wrong": not old_ok, "problems": len(problems)})

        await ctx.store.transaction(refused)
        raise PasswordRefused(problems)
    new_hash = await hash_password(new)
    now = utcnow()

    async def work(uow: UnitOfWork) -> None:
        await uow.db[repo.ACCOUNTS].update_one(
            {"_id": user}, {"$set": {"password_hash": new_hash, "must_change_password": False, "password_changed_at": now}},
            session=uow.session)
        # every other session of this account ends: whoever knew the old password is out
        await uow.db[repo.SESSIONS].delete_many({"user": user, "_id": {"$ne": session["_id"]}}, session=uow.session)
        uow.audit("account.password_changed", subject_type="account", subject_id=user, actor=f"user:{user}",
                  details={"first_change": bool(account.get("must_change_password"))})

    await ctx.store.transaction(work)


# ---- what is new since the last visit (R-15.1) ---------------------------------------------------


async def new_since_last_visit(ctx: ServiceContext, user: str, page: str, keys: list[str]) -> int:
    """How many of `keys` (the items on the page now) were not there at the user's last visit;
    the visit is then recorded."""
    db = ctx.store.db
    previous = await db["visits"].find_one({"_id": f"{user}:{page}"})
    seen = set(previous.get("seen", [])) if previous else None
    await db["visits"].update_one({"_id": f"{user}:{page}"}, {"$set": {"seen": keys, "at": utcnow()}}, upsert=True)
    if seen is None:
        return len(keys)
    return sum(k not in seen for k in keys)


# ---- the operator's repairs (until the operator console: `python -m services.portal.admin`) --------


class NoSuchAccount(LookupError):
    pass


async def unlock(ctx: ServiceContext, user: str, *, by: str) -> None:
    async def work(uow: UnitOfWork) -> None:
        changed = await uow.db[repo.ACCOUNTS].update_one({"_id": user}, {"$set": {"failed_attempts": 0, "locked_until": None}},
                                                         session=uow.session)
        if changed.matched_count == 0:
            raise NoSuchAccount(user)
        uow.audit("account.unlocked", subject_type="account", subject_id=user, actor=by, details={})

    await ctx.store.transaction(work)


async def reset_password(ctx: ServiceContext, user: str, *, by: str) -> str:
    """A new one-time password (returned once, to hand over in person); it must be changed at the
    next sign-in, and every open session of the account ends."""
    temporary = session_rules.new_csrf_token()[:16]
    new_hash = await hash_password(temporary)

    async def work(uow: UnitOfWork) -> None:
        changed = await uow.db[repo.ACCOUNTS].update_one(
            {"_id": user}, {"$set": {"password_hash": new_hash, "must_change_password": True, "failed_attempts": 0,
                                     "locked_until": None, "password_reset_at": utcnow()}}, session=uow.session)
        if changed.matched_count == 0:
            raise NoSuchAccount(user)
        ended = await uow.db[repo.SESSIONS].delete_many({"user": user}, session=uow.session)
        uow.audit("account.password_reset", subject_type="account", subject_id=user, actor=by,
                  details={"sessions_ended": ended.deleted_count})

    await ctx.store.transaction(work)
    return temporary
