"""The portal's web layer: the session guard (ServiceDefinition.guard), CSRF, the route class
that turns refusals into Vietnamese pages and redirects, and template rendering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.portal.adapters.services import Caller, ServiceError
from services.portal.domain import sessions as session_rules
from services.portal.domain.access import ANONYMOUS, PASSWORD_CHANGE_ROUTES
from services.portal.domain.accounts import ROLE_LABELS_VI, VN
from services.portal.domain.menu import MenuEntry, home_for, menu_for
from services.portal.handlers import accounts
from shared.config import Settings
from shared.logging import get_logger

log = get_logger(__name__)
HERE = Path(__file__).resolve().parent.parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
EXTRA_MENU: list[MenuEntry] = []  # entries of plug-in modules (reports), set by the app
RULES: dict = {}  # the app's full rule table, set by the guard factory

NOTICES = {
    "password_changed": "Đã đổi mật khẩu.",
    "signed_out": "Đã đăng xuất.",
    "expired": "Phiên làm việc đã hết hạn; hãy đăng nhập lại.",
    "assigned": "Đã giao việc.",
    "draft_created": "Đã tạo dự thảo.",
    "draft_version": "Đã tải lên phiên bản mới.",
    "draft_submitted": "Đã trình dự thảo.",
    "draft_approved": "Đã duyệt dự thảo: văn bản được chuyển đi ký số.",
    "outgoing_approved": "Đã duyệt: văn bản được chuyển đi ký số bằng khóa của đồng chí.",
    "outgoing_returned": "Đã trả lại văn bản cho văn thư.",
    "draft_returned": "Đã trả lại dự thảo kèm ý kiến.",
    "format_passed": "Đã kiểm tra thể thức: văn bản được cấp số và ký số cơ quan.",
    "format_returned": "Đã trả lại văn bản kèm nhận xét về thể thức.",
    "recall_sent": "Đã gửi thông báo thu hồi đến các nơi nhận.",
    "digitised": "Đã nhận bản số hóa: hệ thống đang ký số cơ quan và đăng ký vào sổ.",
    "handling_received": "Đã ghi nhận: đã nhận văn bản.",
    "forwarded": "Đã chuyển văn bản đến Chủ tịch.",
    "handling_progress": "Đã ghi tiến độ.",
    "handling_completed": "Đã ghi nhận: hoàn thành xử lý.",
    "dossier_opened": "Đã mở hồ sơ.",
    "dossier_item": "Đã thêm văn bản vào hồ sơ.",
    "dossier_closed": "Đã đóng hồ sơ.",
    "dossier_submitted": "Đã nộp hồ sơ vào lưu trữ.",
    "dossier_accepted": "Đã tiếp nhận hồ sơ vào lưu trữ.",
    "dossier_returned": "Đã trả lại hồ sơ cho người lập.",
    "disposal_proposed": "Đã đề nghị hủy hồ sơ.",
}

STATE_LABELS_VI = {
    # incoming
    "arrived": "Mới đến, đang kiểm tra", "registered": "Đã đăng ký", "refused": "Bị từ chối", "held": "Tạm giữ, kiểm tra lại",
    "recalled": "Đã thu hồi", "digitising": "Đang số hóa", "digitisation_failed": "Số hóa không thành",
    "awaiting_assignment": "Chờ giao việc", "assigned": "Đã giao", "in_progress": "Đang xử lý", "completed": "Đã hoàn thành",
    # outgoing
    "awaiting_approval": "Chờ lãnh đạo duyệt", "returned_by_leader": "Lãnh đạo trả lại",
    "leader_signing": "Chờ lãnh đạo ký số", "awaiting_clerk_check": "Chờ văn thư kiểm tra thể thức",
    "returned_by_clerk": "Văn thư trả lại", "agency_signing": "Đang cấp số, ký số cơ quan", "annex_signing": "Đang ký phụ lục",
    "issued": "Đã phát hành", "signature_refused": "Ký số bị từ chối", "cancelled": "Đã hủy",
    # drafts
    "draft": "Đang soạn", "submitted": "Đã trình", "returned": "Bị trả lại", "approved": "Đã duyệt",
    # my work
    "overdue": "Quá hạn", "due_soon": "Sắp đến hạn", "not_received": "Chưa nhận", "done_late": "Xong, trễ hạn",
    "done_on_time": "Xong, đúng hạn",
    # verification
    "passed": "Đạt", "failed": "Không đạt", "indeterminate": "Chưa xác định",
}
# No script at all; styles from the portal's own sheet (and inline SVG attributes of the charts).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
URGENCY_VI = {0: "Thường", 1: "Khẩn", 2: "Thượng khẩn", 3: "Hỏa tốc"}


# ---- refusals and redirects as pages ---------------------------------------------------------


class Redirect(HTTPException):
    # An HTTPException, so a route outside PortalRoute (e.g. /blobs/…) answers 303 too, not 500.
    def __init__(self, location: str) -> None:
        super().__init__(303, headers={"Location": location})
        self.location = location


class PageError(Exception):
    def __init__(self, status: int, message_vi: str, *, title: str | None = None) -> None:
        super().__init__(message_vi)
        self.status = status
        self.message_vi = message_vi
        self.title = title


TITLES = {400: "Yêu cầu không hợp lệ", 401: "Cần đăng nhập", 403: "Không được phép", 404: "Không tìm thấy",
          409: "Xung đột dữ liệu", 413: "Tệp quá lớn", 422: "Dữ liệu chưa đúng", 503: "Hệ thống tạm thời không trả lời"}


def error_page(request: Request, status: int, message_vi: str, title: str | None = None) -> HTMLResponse:
    return render(request, "error.html", status=status, title=title or TITLES.get(status, "Có lỗi"), message=message_vi)


class PortalRoute(APIRoute):
    """Every portal route: a refusal becomes a Vietnamese page (or a redirect to sign in)."""

    def get_route_handler(self):
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Redirect as exc:
                return RedirectResponse(exc.location, status_code=303)
            except PageError as exc:
                return error_page(request, exc.status, exc.message_vi, exc.title)
            except ServiceError as exc:
                status = exc.status if exc.status in TITLES else 502
                return error_page(request, status, exc.message_vi)
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ["", "?"])[-1]) for e in exc.errors())
                return error_page(request, 422, f"Thiếu hoặc sai thông tin: {fields}.")
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))

        return handler


# ---- the guard -------------------------------------------------------------------------------


def _wants_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD")


def portal_guard(rules, settings: Settings):
    """ServiceDefinition.guard: the session cookie, the account's role against the portal's
    table (domain/access.py), the forced password change, CSRF on every POST."""
    RULES.clear()
    RULES.update(rules)

    async def guard(request: Request) -> None:
        ctx = request.app.state.ctx
        route = request.scope.get("route")
        key = (request.method if request.method != "HEAD" else "GET", getattr(route, "path", request.url.path))
        permitted = rules.get(key)
        request.state.session = request.state.account = request.state.caller = None
        if permitted is None:
            raise PageError(403, "Trang này không mở cho ai.")
        found = await accounts.current_session(ctx, request.cookies.get(session_rules.COOKIE))
        if found:
            request.state.session, request.state.account = found
        if ANONYMOUS in permitted:
            if request.method == "POST":
                form = await request.form()
                if not session_rules.same_token(request.cookies.get(session_rules.LOGIN_CSRF_COOKIE),
                                                form.get(session_rules.CSRF_FIELD)):
                    raise PageError(403, "Biểu mẫu đăng nhập đã hết hạn hoặc không hợp lệ; hãy tải lại trang và thử lại.")
            return
        if not found:
            if _wants_page(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise Redirect(f"/dang-nhap?next={quote(target, safe='')}")
            raise PageError(401, "Phiên làm việc đã hết hạn hoặc chưa đăng nhập; hãy đăng nhập lại.")
        session, account = found
        if account.get("must_change_password") and key not in PASSWORD_CHANGE_ROUTES:
            if _wants_page(request):
                raise Redirect("/doi-mat-khau")
            raise PageError(403, "Cần đổi mật khẩu trước khi làm việc khác.")
        if account["role"] not in permitted:
            async def denied(uow) -> None:
                uow.audit("access.denied", subject_type="page", subject_id=f"{key[0]} {key[1]}",
                          actor=f"user:{account['_id']}", details={"role": account["role"], "path": request.url.path})

            await ctx.store.transaction(denied)
            raise PageError(403, f"Vai trò «{ROLE_LABELS_VI.get(account['role'], account['role'])}» không được mở trang này.")
        if request.method == "POST":
            form = await request.form()
            if not session_rules.same_token(session.get("csrf"), form.get(session_rules.CSRF_FIELD)):
                raise PageError(403, "Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã chống giả mạo); hãy tải lại trang và thử lại.")
        request.state.caller = Caller(account["_id"], account["role"], account.get("name", ""))

    return guard


def caller(request: Request) -> Caller:
    found = getattr(request.state, "caller", None)
    if found is None:
        raise PageError(401, "Cần đăng nhập.")
    return found


def account(request: Request) -> dict:
    return getattr(request.state, "account", None) or {}


# ---- rendering -------------------------------------------------------------------------------


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def fmt_datetime(value: Any) -> str:
    moment = _as_datetime(value)
    return moment.astimezone(VN).strftime("%H:%M %d/%m/%Y") if moment else (str(value) if value else "")


def fmt_date(value: Any) -> str:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    moment = _as_datetime(value)
    return moment.astimezone(VN).strftime("%d/%m/%Y") if moment else (str(value) if value else "")


TEMPLATES.filters.update(
    dt=fmt_datetime, date=fmt_date, state=lambda s: STATE_LABELS_VI.get(str(s), str(s or "")),
    urgency=lambda u: URGENCY_VI.get(int(u or 0), str(u)), role=lambda r: ROLE_LABELS_VI.get(str(r), str(r)),
    urlq=lambda s: quote(str(s), safe=""),
)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    who = account(request)
    session = getattr(request.state, "session", None) if hasattr(request, "state") else None
    notice = NOTICES.get(request.query_params.get("tb", ""))
    body = TEMPLATES.get_template(template).render(
        account=who or None, menu=menu_for(who["role"], RULES, EXTRA_MENU) if who and not who.get("must_change_password") else [],
        csrf=(session or {}).get("csrf", ""), csrf_field=session_rules.CSRF_FIELD, notice=notice,
        home=home_for(who["role"]) if who else "/dang-nhap", path=request.url.path, **context)
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def back(location: str, notice: str) -> RedirectResponse:
    sep = "&" if "?" in location else "?"
    return RedirectResponse(f"{location}{sep}tb={notice}", status_code=303)


def services(request: Request):
    """The other services, called as the signed-in user (adapters/services.py)."""
    return request.app.state.ctx.extras["services"]


async def try_get(request: Request, service: str, path: str, **kwargs: Any) -> tuple[Any, str | None]:
    """A read for a page: (data, None), or (None, the Vietnamese reason) when it failed, so one
    service down leaves the rest of the page working."""
    try:
        return await services(request).get(caller(request), service, path, **kwargs), None
    except ServiceError as exc:
        return None, exc.message_vi


async def act(request: Request, service: str, method: str, path: str, **kwargs: Any) -> Any:
    """A change through a service for the signed-in user; a refusal becomes the error page."""
    response = await services(request).request(caller(request), service, method, path, **kwargs)
    return response.json() if response.content else None
