"""Accounts, sign-in, sessions and CSRF of the portal (issue 6 item 1; R-15.2, R-15.5)."""

from __future__ import annotations

import datetime as dt

from portal_client import INITIAL, NEW_PASSWORD, browser, csrf_of, running_portal, sign_in, signed_in

from services.portal.adapters import repository as repo
from services.portal.domain import accounts as rules
from services.portal.domain import sessions as session_rules
from services.portal.domain.access import ACCESS, ANONYMOUS
from shared.staff import load_staff


def ctx_of(app):
    return app.state.ctx


async def audit_actions(app, subject: str) -> list[str]:
    rows = await ctx_of(app).store.db["audit_log"].find({"subject_id": subject}, sort=[("at", 1)]).to_list()
    return [r["action"] for r in rows]


# ---- pure rules ----------------------------------------------------------------------------------


def test_password_rules():
    assert rules.password_problems("ngắn", user="vanthu", old="x")
    assert rules.password_problems("vanthu12345", user="vanthu", old="x")  # contains the user name
    assert rules.password_problems(INITIAL, user="vanthu", old=INITIAL)  # the old one
    assert rules.password_problems("Mot-mat-khau-dai", user="vanthu", old="x", confirm="khac")
    assert rules.password_problems("Mot-mat-khau-dai", user="vanthu", old="x", confirm="Mot-mat-khau-dai") == []


def test_lockout_and_session_rules():
    now = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    policy = rules.LockoutPolicy(5, 15)
    changes, outcome = rules.after_failure({"failed_attempts": 3}, now, policy)
    assert outcome == rules.Outcome.WRONG_PASSWORD and changes == {"failed_attempts": 4}
    changes, outcome = rules.after_failure({"failed_attempts": 4}, now, policy)
    assert outcome == rules.Outcome.LOCKED_NOW and changes["locked_until"] == now + dt.timedelta(minutes=15)
    assert rules.locked(changes, now + dt.timedelta(minutes=14)) and not rules.locked(changes, now + dt.timedelta(minutes=15))
    timeouts = session_rules.Timeouts()
    session = {"created_at": now, "last_seen_at": now}
    assert session_rules.expired(session, now + dt.timedelta(minutes=29), timeouts) is None
    assert session_rules.expired(session, now + dt.timedelta(minutes=30), timeouts) == "idle"
    busy = {"created_at": now, "last_seen_at": now + dt.timedelta(hours=11, minutes=59)}
    assert session_rules.expired(busy, now + dt.timedelta(hours=12), timeouts) == "absolute"


def test_every_route_has_a_rule_and_only_sign_in_is_open():
    open_routes = {key for key, allowed in ACCESS.items() if ANONYMOUS in allowed}
    assert open_routes == {("GET", "/static/portal.css"), ("GET", "/dang-nhap"), ("POST", "/dang-nhap")}


# ---- accounts in the store -------------------------------------------------------------------------


async def test_accounts_are_seeded_with_an_argon2id_hash_never_the_password(portal, portal_settings):
    accounts = await ctx_of(portal).store.db[repo.ACCOUNTS].find({}).to_list()
    staff = load_staff(portal_settings.staff_file)
    assert {a["_id"] for a in accounts} == set(staff.members)
    assert any(a["role"] == "operator" for a in accounts)
    for account in accounts:
        assert account["password_hash"].startswith("$argon2id$")
        assert INITIAL not in str(account)
        assert account["must_change_password"] is True
    assert "account.created" in await audit_actions(portal, "vanthu")
    # a second start leaves existing accounts as they are
    await ctx_of(portal).store.db[repo.ACCOUNTS].update_one({"_id": "vanthu"}, {"$set": {"must_change_password": False}})
    async with running_portal(portal_settings) as again:
        assert (await repo.get_account(ctx_of(again).store.db, "vanthu"))["must_change_password"] is False


async def test_first_sign_in_forces_a_password_change_before_anything_else(portal):
    async with browser(portal) as client:
        answer = await sign_in(client, "vanthu", INITIAL)
        assert answer.status_code == 303 and answer.headers["location"] == "/doi-mat-khau"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "vanthu_session=" in cookie
        # the session id is not stored, only its SHA-256
        stored = await ctx_of(portal).store.db[repo.SESSIONS].find({}).to_list()
        session_id = client.cookies.get(session_rules.COOKIE)
        assert [s["_id"] for s in stored] == [session_rules.session_key(session_id)]
        # anything else leads back to the password page
        for page in ("/van-thu", "/tra-cuu", "/"):
            blocked = await client.get(page)
            assert blocked.status_code == 303 and blocked.headers["location"] == "/doi-mat-khau", page
        form = await client.get("/doi-mat-khau")
        assert form.status_code == 200 and 'id="must-change"' in form.text and 'lang="vi"' in form.text
        token = csrf_of(form.text)
        refused = await client.post("/doi-mat-khau", data={"old_password": INITIAL, "new_password": "vanthu-2026-abc",
                                                           "confirm_password": "vanthu-2026-abc", "csrf_token": token})
        assert refused.status_code == 422 and "tên đăng nhập" in refused.text
        wrong_old = await client.post("/doi-mat-khau", data={"old_password": "sai-mat-khau", "new_password": NEW_PASSWORD,
                                                             "confirm_password": NEW_PASSWORD, "csrf_token": token})
        assert wrong_old.status_code == 422 and "Mật khẩu hiện tại không đúng" in wrong_old.text
        changed = await client.post("/doi-mat-khau", data={"old_password": INITIAL, "new_password": NEW_PASSWORD,
                                                           "confirm_password": NEW_PASSWORD, "csrf_token": token})
        assert changed.status_code == 303 and changed.headers["location"].startswith("/van-thu")
        account = await repo.get_account(ctx_of(portal).store.db, "vanthu")
        assert account["must_change_password"] is False and NEW_PASSWORD not in str(account)
        page = await client.get("/van-thu")
        assert page.status_code == 200 and 'id="page-title"' in page.text
    assert "account.password_changed" in await audit_actions(portal, "vanthu")
    # the new password works, the old one no longer does
    async with browser(portal) as other:
        assert (await sign_in(other, "vanthu", INITIAL)).status_code == 401
        assert (await sign_in(other, "vanthu", NEW_PASSWORD)).headers["location"] == "/van-thu"


async def test_five_wrong_passwords_lock_the_account_for_15_minutes(portal):
    async with browser(portal) as client:
        for attempt in range(1, 5):
            answer = await sign_in(client, "cc.tuphap", f"sai-{attempt}")
            assert answer.status_code == 401 and "không đúng" in answer.text
        fifth = await sign_in(client, "cc.tuphap", "sai-5")
        assert fifth.status_code == 423 and "tạm khóa" in fifth.text
        # locked: even the right password is refused
        locked = await sign_in(client, "cc.tuphap", INITIAL)
        assert locked.status_code == 423 and "tạm khóa" in locked.text and client.cookies.get(session_rules.COOKIE) is None
    account = await repo.get_account(ctx_of(portal).store.db, "cc.tuphap")
    remaining = account["locked_until"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=14) < remaining <= dt.timedelta(minutes=15)
    actions = await audit_actions(portal, "cc.tuphap")
    assert actions.count("signin.failed") == 5 and "account.locked" in actions and "signin.refused_locked" in actions
    # after the 15 minutes the right password works again
    await ctx_of(portal).store.db[repo.ACCOUNTS].update_one(
        {"_id": "cc.tuphap"}, {"$set": {"locked_until": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}})
    async with browser(portal) as client:
        assert (await sign_in(client, "cc.tuphap", INITIAL)).status_code == 303


async def test_unknown_users_get_the_same_answer_and_are_audited(portal):
    async with browser(portal) as client:
        answer = await sign_in(client, "khong-co-ai", "bat-ky")
        assert answer.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in answer.text
    assert await audit_actions(portal, "khong-co-ai") == ["signin.failed"]


async def test_a_post_without_the_csrf_token_is_refused(portal):
    async with browser(portal) as client:
        page = await client.get("/dang-nhap")
        assert (await client.post("/dang-nhap", data={"user": "vanthu", "password": INITIAL})).status_code == 403
        assert (await client.post("/dang-nhap", data={"user": "vanthu", "password": INITIAL,
                                                      "csrf_token": "gia-mao"})).status_code == 403
        assert csrf_of(page.text)
    async with signed_in(portal, "vanthu") as client:
        missing = await client.post("/dang-xuat")
        assert missing.status_code == 403 and "chống giả mạo" in missing.text
        forged = await client.post("/dang-xuat", data={"csrf_token": "x" * 43})
        assert forged.status_code == 403
        # still signed in
        assert (await client.get("/van-thu")).status_code == 200


async def test_sign_out_ends_the_session(portal):
    async with signed_in(portal, "vanthu") as client:
        cookie = client.cookies.get(session_rules.COOKIE)
        page = await client.get("/van-thu")
        out = await client.post("/dang-xuat", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"].startswith("/dang-nhap")
        assert await ctx_of(portal).store.db[repo.SESSIONS].count_documents({"user": "vanthu"}) == 0
    # the old cookie opens nothing any more
    async with browser(portal) as replay:
        replay.cookies.set(session_rules.COOKIE, cookie)
        again = await replay.get("/van-thu")
        assert again.status_code == 303 and again.headers["location"].startswith("/dang-nhap")
        post = await replay.post("/van-thu/so-hoa", data={"csrf_token": "x"})
        assert post.status_code == 401
    actions = await audit_actions(portal, "vanthu")
    assert "signin" in actions and "signout" in actions


async def test_idle_and_absolute_timeouts(portal):
    db = ctx_of(portal).store.db
    async with signed_in(portal, "luutru") as client:
        assert (await client.get("/luu-tru")).status_code == 200
        await db[repo.SESSIONS].update_many({"user": "luutru"}, {"$set": {
            "last_seen_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)}})
        assert (await client.get("/luu-tru")).status_code == 303
        assert await db[repo.SESSIONS].count_documents({"user": "luutru"}) == 0
    async with signed_in(portal, "luutru", password=NEW_PASSWORD, new_password="unused") as client:
        await db[repo.SESSIONS].update_many({"user": "luutru"}, {"$set": {
            "created_at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=12, seconds=1)}})
        assert (await client.get("/luu-tru")).status_code == 303
    assert "session.expired" in await audit_actions(portal, "luutru")


async def test_pages_ask_for_sign_in_and_a_role_cannot_open_another_roles_page(portal):
    async with browser(portal) as anonymous:
        answer = await anonymous.get("/viec-cua-toi")
        assert answer.status_code == 303 and answer.headers["location"] == "/dang-nhap?next=%2Fviec-cua-toi"
        assert (await anonymous.get("/static/portal.css")).status_code == 200
    async with signed_in(portal, "cc.vanphong") as officer:
        for page in ("/van-thu", "/van-thu/so-hoa", "/lanh-dao", "/luu-tru", "/van-hanh"):
            refused = await officer.get(page)
            assert refused.status_code == 403, page
            assert "không được mở trang này" in refused.text and 'lang="vi"' in refused.text
        token = csrf_of((await officer.get("/doi-mat-khau")).text)
        assert (await officer.post("/van-ban-den/x/giao-viec", data={"csrf_token": token, "lead": "cc.tuphap"})).status_code == 403
        # the menu shows only the officer's pages
        page = await officer.get("/doi-mat-khau")
        assert 'id="nav-work"' in page.text and 'id="nav-clerk"' not in page.text and 'id="nav-leader"' not in page.text
    assert "access.denied" in await audit_actions(portal, "GET /lanh-dao")
    async with signed_in(portal, "vanhanh") as operator:
        assert (await operator.get("/tra-cuu")).status_code == 403  # the operator reads no documents
        status = await operator.get("/van-hanh")
        assert status.status_code == 200 and 'id="service-status"' in status.text


async def test_the_cookie_is_secure_by_default(settings):
    async with running_portal(settings) as app, browser(app) as client:
        page = await client.get("/dang-nhap")
        answer = await client.post("/dang-nhap", data={"user": "vanthu", "password": INITIAL, "csrf_token": csrf_of(page.text)})
        # the jar of a plain-http client drops the Secure login cookie, so the CSRF check refuses
        assert "Secure" in page.headers["set-cookie"]
        assert answer.status_code == 403


async def test_the_operator_unlocks_and_resets_an_account(portal):
    from services.portal.handlers import accounts

    ctx = ctx_of(portal)
    async with browser(portal) as client:
        for attempt in range(5):
            await sign_in(client, "cc.diachinh", f"sai-{attempt}")
        assert (await sign_in(client, "cc.diachinh", INITIAL)).status_code == 423
    await accounts.unlock(ctx, "cc.diachinh", by="operator-cli:test")
    async with signed_in(portal, "cc.diachinh") as officer:
        assert (await officer.get("/viec-cua-toi")).status_code == 200
        temporary = await accounts.reset_password(ctx, "cc.diachinh", by="operator-cli:test")
        # every open session of the account ended
        assert (await officer.get("/viec-cua-toi")).status_code == 303
    async with browser(portal) as client:
        assert (await sign_in(client, "cc.diachinh", NEW_PASSWORD)).status_code == 401
        answer = await sign_in(client, "cc.diachinh", temporary)
        assert answer.status_code == 303 and answer.headers["location"] == "/doi-mat-khau"
    actions = await audit_actions(portal, "cc.diachinh")
    assert "account.unlocked" in actions and "account.password_reset" in actions
