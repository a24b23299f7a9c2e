"""The operator's console (issue 7 item 3; R-13), working without Grafana: each service's
readiness, version and replicas; queue depths, consumers and rates (RabbitMQ's management API,
adapters/broker.py); dead letters with their reason — inspect, replay or discard with a recorded
reason, each confirmed on a second page; the axis link (gateway's status facts), the token and
certificates (signing's), and recent errors of every service, newest first.

Everything is read from each service's `/ops/…` as the signed-in operator; one service or the
broker not answering leaves the rest of the page up with a Vietnamese message.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from services.portal.adapters.broker import BrokerManagement, BrokerUnavailable
from services.portal.adapters.services import SERVICE_NAMES_VI, ServiceError
from services.portal.entrypoints import web
from services.portal.entrypoints.web import PageError, PortalRoute, act, back, render, services, try_get
from shared import ops_api
from shared.service import ServiceDefinition

router = APIRouter(route_class=PortalRoute, tags=["operator"])
WATCHED = ("gateway", "intake", "dispatch", "signing", "archive")
CONSOLE = "/van-hanh"
RECENT_ERRORS_SHOWN = 50
HANDLED_SHOWN = 20

web.NOTICES.update({
    "dead_letter_replayed": "Đã phát lại thông điệp vào hàng đợi ban đầu; lý do đã được ghi lại.",
    "dead_letter_discarded": "Đã hủy bỏ thông điệp; lý do đã được ghi lại.",
})
DEAD_LETTER_STATES_VI = {"open": "Đang chờ xử lý", "replayed": "Đã phát lại", "discarded": "Đã hủy bỏ"}
CERT_KINDS_VI = {"key": "Khóa ký số", "ca": "CA của cơ quan", "trust_root": "Gốc tin cậy", "tsa": "Máy chủ dấu thời gian"}
web.TEMPLATES.filters.update(dl_state=lambda s: DEAD_LETTER_STATES_VI.get(str(s), str(s or "")),
                             cert_kind=lambda k: CERT_KINDS_VI.get(str(k), str(k or "")))


def _dead_letter_path(service: str, dead_letter_id: str) -> str:
    return f"{CONSOLE}/thong-diep-loi/{quote(service, safe='')}/{quote(dead_letter_id, safe='')}"


async def _broker(request: Request) -> dict:
    broker = BrokerManagement(request.app.state.ctx.settings)
    try:
        queues, connections, overview = await asyncio.gather(broker.queues(), broker.connections_by_name(), broker.overview())
    except BrokerUnavailable as exc:
        return {"error": f"Không đọc được hàng đợi từ RabbitMQ ({exc}).", "queues": [], "connections": {}, "overview": {}}
    return {"error": None, "queues": queues, "connections": connections, "overview": overview}


async def _service(request: Request, name: str) -> dict:
    (ready, detail), (status, status_error), (letters, letters_error) = await asyncio.gather(
        services(request).readiness(name),
        try_get(request, name, "/ops/status"),
        try_get(request, name, "/ops/dead-letters", params={"limit": 200}),
    )
    return {"name": name, "label": SERVICE_NAMES_VI.get(name, name), "ready": ready, "detail": detail,
            "status": status or {}, "status_error": status_error, "letters": letters or [], "letters_error": letters_error}


def _merged_errors(rows: list[dict]) -> list[dict]:
    merged = [{**event, "service": row["name"]} for row in rows for event in (row["status"].get("recent_errors") or [])]
    merged.sort(key=lambda e: str(e.get("timestamp") or ""), reverse=True)
    return merged[:RECENT_ERRORS_SHOWN]


@router.get("/van-hanh")
async def console(request: Request) -> Response:
    ctx = request.app.state.ctx
    rows, broker, portal = await asyncio.gather(
        asyncio.gather(*(_service(request, name) for name in WATCHED)),
        _broker(request),
        ops_api.status_of(ctx, ServiceDefinition(name="portal")),
    )
    rows = list(rows)
    for row in rows:
        row["replicas"] = broker["connections"].get(row["name"]) if not broker["error"] else None
    letters = [{**letter, "service": row["name"]} for row in rows for letter in row["letters"]]
    open_letters = sorted((x for x in letters if x.get("state") == "open"), key=lambda x: str(x.get("failed_at")), reverse=True)
    handled = sorted((x for x in letters if x.get("state") != "open"),
                     key=lambda x: str(x.get("replayed_at") or x.get("discarded_at") or ""), reverse=True)[:HANDLED_SHOWN]
    status = {row["name"]: row["status"] for row in rows}
    errors = _merged_errors([*rows, {"name": "portal", "status": portal}])
    return render(request, "operator.html", title="Vận hành hệ thống", rows=rows, all_ready=all(r["ready"] for r in rows),
                  broker=broker, open_letters=open_letters, handled=handled,
                  letters_errors=[(r["label"], r["letters_error"]) for r in rows if r["letters_error"]],
                  axis=status.get("gateway", {}).get("axis"), gateway_error=_first_error(rows, "gateway"),
                  token=status.get("signing", {}).get("token"), certificates=status.get("signing", {}).get("certificates"),
                  signing_error=_first_error(rows, "signing"), errors=errors, portal=portal,
                  grafana_url=ctx.settings.grafana_url)


def _first_error(rows: list[dict], name: str) -> str | None:
    return next((r["status_error"] for r in rows if r["name"] == name), None)


def _known(service: str) -> str:
    if service not in WATCHED:
        raise PageError(404, "Không có dịch vụ này.")
    return service


def pretty_body(letter: dict) -> str:
    """The body as the operator reads it: indented JSON when it is JSON."""
    body = letter.get("body") or ""
    if letter.get("body_encoding") == "base64":
        return f"(dữ liệu nhị phân, {letter.get('body_size', '?')} byte, dạng base64)\n{body}"
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return body


def _header_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


async def _letter(request: Request, service: str, dead_letter_id: str) -> dict:
    return await services(request).get(web.caller(request), service,
                                        f"/ops/dead-letters/{quote(dead_letter_id, safe='')}")


def _render_letter(request: Request, service: str, letter: dict, *, status: int = 200, problem: str | None = None,
                   values: dict | None = None) -> Response:
    headers = sorted((str(k), _header_value(v)) for k, v in (letter.get("headers") or {}).items())
    return render(request, "operator_dead_letter.html", status=status, title="Thông điệp lỗi", service=service,
                  service_label=SERVICE_NAMES_VI.get(service, service), letter=letter, headers=headers,
                  body=pretty_body(letter), problem=problem, values=values or {},
                  action_base=_dead_letter_path(service, str(letter.get("id", ""))))


@router.get("/van-hanh/thong-diep-loi/{service}/{dead_letter_id}")
async def dead_letter(service: str, dead_letter_id: str, request: Request) -> Response:
    letter = await _letter(request, _known(service), dead_letter_id)
    return _render_letter(request, service, letter)


ACTIONS = {
    "phat-lai": {"api": "replay", "notice": "dead_letter_replayed", "verb": "Phát lại",
                 "explain": "Thông điệp sẽ được gửi lại vào hàng đợi ban đầu để dịch vụ xử lý lại (số lần thử lại tính lại từ đầu). "
                            "Nếu lại lỗi, nó quay về đây thành một thông điệp lỗi mới."},
    "huy-bo": {"api": "discard", "notice": "dead_letter_discarded", "verb": "Hủy bỏ",
               "explain": "Thông điệp sẽ không được xử lý nữa. Bản lưu và lý do vẫn được giữ để tra soát."},
}


async def _act_on(request: Request, service: str, dead_letter_id: str, action: str, reason: str, confirm: str) -> Response:
    step = ACTIONS[action]
    letter = await _letter(request, _known(service), dead_letter_id)
    reason = reason.strip()
    if not reason:
        return _render_letter(request, service, letter, status=422, values={action: reason},
                              problem=f"Ghi lý do trước khi {step['verb'].lower()} thông điệp.")
    if letter.get("state") != "open":
        return _render_letter(request, service, letter, status=409,
                              problem=f"Thông điệp này {DEAD_LETTER_STATES_VI.get(letter.get('state'), letter.get('state'))}, không còn chờ xử lý.")
    if confirm != "yes":  # no scripts: the confirmation is a page of its own
        return render(request, "operator_confirm.html", title=f"Xác nhận: {step['verb'].lower()} thông điệp", step=step,
                      action=action, service=service, service_label=SERVICE_NAMES_VI.get(service, service),
                      letter=letter, reason=reason, action_base=_dead_letter_path(service, dead_letter_id))
    try:
        await act(request, service, "POST", f"/ops/dead-letters/{quote(dead_letter_id, safe='')}/{step['api']}",
                  json={"reason": reason})
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return _render_letter(request, service, await _letter(request, service, dead_letter_id), status=exc.status,
                              problem=exc.message_vi)
    return back(_dead_letter_path(service, dead_letter_id), step["notice"])


@router.post("/van-hanh/thong-diep-loi/{service}/{dead_letter_id}/phat-lai")
async def replay(service: str, dead_letter_id: str, request: Request, reason: str = Form(""), confirm: str = Form("")) -> Response:
    return await _act_on(request, service, dead_letter_id, "phat-lai", reason, confirm)


@router.post("/van-hanh/thong-diep-loi/{service}/{dead_letter_id}/huy-bo")
async def discard(service: str, dead_letter_id: str, request: Request, reason: str = Form(""), confirm: str = Form("")) -> Response:
    return await _act_on(request, service, dead_letter_id, "huy-bo", reason, confirm)
