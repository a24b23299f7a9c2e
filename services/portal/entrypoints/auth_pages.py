"""Signing in and out, and the password (R-15.2)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.portal.domain import sessions as session_rules
from services.portal.domain.accounts import MIN_PASSWORD_LENGTH
from services.portal.domain.menu import home_for
from services.portal.entrypoints.web import HERE, PortalRoute, Redirect, account, back, render
from services.portal.handlers import accounts
from shared.service import ctx_of

router = APIRouter(route_class=PortalRoute, tags=["sign-in"])
CSS = (HERE / "static" / "portal.css").read_text(encoding="utf-8")


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _cookie_args(request: Request) -> dict:
    return {"httponly": True, "secure": ctx_of(request).settings.portal_cookie_secure, "samesite": "lax", "path": "/"}


@router.get("/static/portal.css", include_in_schema=False)
async def stylesheet() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def _sign_in_page(request: Request, *, status: int = 200, error: str | None = None, user: str = "",
                  next_: str | None = None) -> Response:
    token = session_rules.new_csrf_token()
    response = render(request, "sign_in.html", status=status, error=error, user=user, next=_safe_next(next_) or "",
                      login_csrf=token)
    response.set_cookie(session_rules.LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_args(request))
    return response


@router.get("/dang-nhap")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    who = account(request)
    if who:
        raise Redirect(_safe_next(next) or home_for(who["role"]))
    return _sign_in_page(request, next_=next)


@router.post("/dang-nhap")
async def sign_in(request: Request, user: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    ctx = ctx_of(request)
    try:
        signed = await accounts.sign_in(ctx, user, password, user_agent=request.headers.get("user-agent", ""))
    except accounts.SignInRefused as exc:
        return _sign_in_page(request, status=423 if exc.outcome in ("locked", "locked_now") else 401, error=exc.message_vi, user=user,
                             next_=next)
    if old := request.state.session:  # a session already open in this browser ends
        await accounts.sign_out(ctx, old)
    target = "/doi-mat-khau" if signed.account.get("must_change_password") else (_safe_next(next) or home_for(signed.account["role"]))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(session_rules.COOKIE, signed.session_id, max_age=int(ctx.settings.portal_session_absolute_hours * 3600),
                        **_cookie_args(request))
    response.delete_cookie(session_rules.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/dang-xuat")
async def sign_out(request: Request) -> Response:
    await accounts.sign_out(ctx_of(request), request.state.session)
    response = RedirectResponse("/dang-nhap?tb=signed_out", status_code=303)
    response.delete_cookie(session_rules.COOKIE, path="/")
    return response


@router.get("/doi-mat-khau")
async def password_form(request: Request) -> Response:
    return render(request, "password.html", min_length=MIN_PASSWORD_LENGTH,
                  forced=bool(account(request).get("must_change_password")))


@router.post("/doi-mat-khau")
async def change_password(request: Request, old_password: str = Form(""), new_password: str = Form(""),
                          confirm_password: str = Form("")) -> Response:
    who = account(request)
    try:
        await accounts.change_password(ctx_of(request), request.state.session, who, old=old_password, new=new_password,
                                       confirm=confirm_password)
    except accounts.PasswordRefused as exc:
        return render(request, "password.html", status=422, problems=exc.problems, min_length=MIN_PASSWORD_LENGTH,
                      forced=bool(who.get("must_change_password")))
    return back(home_for(who["role"]), "password_changed")


@router.get("/")
async def home(request: Request) -> Response:
    raise Redirect(home_for(account(request)["role"]))
