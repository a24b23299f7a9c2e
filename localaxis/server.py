"""The local interconnection axis: the national axis's operations (VNPT VXP SDK protocol,
standards.md §2.2) for the commune's system, simulated agencies behind it (`/_sim/…`), their
CAs and CRLs (`/pki/…`) and fault switches for tests (`/_control/…`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from localaxis.agencies import Agencies, Agency
from localaxis.pki import AxisPki
from localaxis.simulator import FAULTS, Simulator, pause_between_statuses
from localaxis.store import AxisStore
from shared.clock import VN_TZ, utcnow
from shared.edxml import (
    Attachment,
    BusinessDocType,
    EdxmlError,
    Organization,
    Replacement,
    ResponseFor,
    StaffInfo,
    StatusCode,
    StatusPackage,
    build_edoc,
    build_status,
    parse_edoc,
    parse_status,
    peek_header,
)
from shared.vxp import VxpAuthError, verify_headers

log = logging.getLogger("localaxis")


class Faults(BaseModel):
    unavailable: bool = False  # every VXP operation answers 503
    fail_next_sends: int = 0  # the next N sendEdoc calls answer 503
    drop_acks: bool = False  # updateStatus answers OK but is not recorded (the item is offered again)
    silent_agencies: list[str] = []  # these simulated agencies take documents but send no status back


class CrlControl(BaseModel):
    reachable: bool = True


class SimSend(BaseModel):
    to: str = "000.24.26.H56"
    subject: str = "Về việc triển khai nhiệm vụ chuyển đổi số"
    type_name: str = "Công văn"
    code_notation: str | None = None
    code_number: int | None = Field(None, ge=1, description="force the number (default: the agency's next)")
    urgency: int = Field(0, ge=0, le=3)
    due_date: dt.date | None = None
    count: int = Field(1, ge=1, le=500)
    fault: str | None = None
    # Recall (1), update (2), replace (3) of business_document_id as an edoc package (§1.5, §2.5).
    business_doc_type: int = Field(0, ge=0, le=3)
    business_document_id: str | None = None
    business_doc_reason: str = ""
    # A reply: the document of the receiver this one answers (ResponseFor, §1.2 row 14).
    reply_to_document_id: str | None = None
    # An extra attachment of this many bytes (a PDF header, then random bytes): an oversized package.
    attachment_bytes: int = Field(0, ge=0, le=256 * 1024 * 1024)


class SimRecall(BaseModel):
    document_id: str
    to: str = "000.24.26.H56"
    reason: str = "Thu hồi văn bản điện tử"


class SimRedeliver(BaseModel):
    axis_doc_id: str


def _ok(**fields) -> dict:
    return {"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thành công", **fields}


def _fail(code: str, desc: str, http: int = 200) -> JSONResponse:
    return JSONResponse({"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc}, status_code=http)


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


def create_app(data_dir: Path, agencies: Agencies, base_url: str) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Packages that reached a simulated agency just before a restart are still waiting.
        for agency in agencies.simulated():
            for kind in ("edoc", "status"):
                for row in store.received(agency.code, kind):
                    spawn(simulated_receive(agency, row["doc_id"]))
        # Statuses an agency still owed when the axis stopped (between 01 and 03, say).
        for agency_code, doc_id in dict.fromkeys((row["agency"], row["axis_doc_id"]) for row in store.pending_statuses()):
            spawn(send_owed_statuses(agencies.by_code(agency_code), doc_id))
        yield
        for task in list(tasks):
            task.cancel()

    app = FastAPI(title="Local interconnection axis (trục liên thông thử nghiệm)", lifespan=lifespan)
    store = AxisStore(data_dir / "axis.sqlite3")
    pki = AxisPki(data_dir / "pki", base_url, agencies.simulated())
    pki.ensure()
    sim = Simulator(pki, store, agencies)
    state = {"faults": Faults(), "crl": CrlControl()}
    tasks: set[asyncio.Task] = set()

    @app.exception_handler(VxpAuthError)
    async def auth_failed(_request: Request, exc: VxpAuthError) -> JSONResponse:
        # 15: wrong SystemId/SecretKey (standards.md §2.4 error codes)
        return _fail("15", f"XroadVnpt signature rejected: {exc}", http=401)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # A test tool: say what broke, so a test's failure message carries the cause.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"local axis error: {type(exc).__name__}: {exc}"}, status_code=500)

    def caller(request: Request) -> tuple[Agency, dict[str, str]]:
        system_id, params = verify_headers(request.headers, agencies.secrets())
        agency = agencies.by_system(system_id)
        if agency is None:
            raise VxpAuthError("unknown system")
        return agency, params

    def unavailable() -> JSONResponse | None:
        if state["faults"].unavailable:
            return JSONResponse({"status": "FAIL", "ErrorCode": "503", "ErrorDesc": "axis unavailable (fault)"}, status_code=503)
        return None

    def deliver(from_code: str, to_code: str, message_type: str, data: bytes, sender_doc_id: str,
                title: str = "", notation: str = "") -> str:
        doc_id = uuid.uuid4().hex
        store.add_item(doc_id=doc_id, sender_doc_id=sender_doc_id, from_code=from_code, to_code=to_code,
                       message_type=message_type, data=data, title=title, notation=notation)
        recipient = agencies.by_code(to_code)
        if recipient is not None and recipient.simulated:
            spawn(simulated_receive(recipient, doc_id))
        return doc_id

    def spawn(coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)  # a strong reference, or the task may vanish mid-way
        task.add_done_callback(tasks.discard)

    async def simulated_receive(agency: Agency, doc_id: str) -> None:
        item = store.item(doc_id)
        data = item["data"]
        try:
            if item["message_type"] == "status":
                status = parse_status(data)
                store.add_status(agency.code, doc_id, status.response_for.document_id, status.status_code.value,
                                 status.description, status.timestamp.isoformat())
                store.set_status(doc_id, "done")
                if status.status_code.value == "13":  # a recall of a document this agency received
                    known = any(r["document_id"] == status.response_for.document_id for r in store.inbox(agency.code))
                    deliver(agency.code, item["from_code"], "status", sim.recall_answer(agency, status, known), uuid.uuid4().hex)
                return
            package = parse_edoc(data)
            pdf = next((a.content for a in package.attachments if a.content_type == "application/pdf"), b"")
            signatures = await run_in_threadpool(sim.inspect_pdf, pdf)
            silent = agency.code in state["faults"].silent_agencies
            store.accept_edoc(agency.code, doc_id, package.document_id, package.code.full, package.subject,
                              package.sender.organ_id, signatures, [] if silent else list(agency.auto_statuses))
            await send_owed_statuses(agency, doc_id)
        except EdxmlError as exc:
            log.warning("simulated agency %s could not read %s: %s", agency.code, doc_id, exc)
            store.set_status(doc_id, "fail")
        except Exception:  # noqa: BLE001 - a simulator bug must not kill the axis
            log.exception("simulated agency %s failed on %s", agency.code, doc_id)
            store.set_status(doc_id, "fail")

    async def send_owed_statuses(agency: Agency, doc_id: str) -> None:
        """01 at once, then 03 a moment later; what is owed is in the store, so a restart of the
        axis between the two goes on with 03 (a real agency's system would still send it)."""
        item = store.item(doc_id)
        package = parse_edoc(item["data"])
        for i, owed in enumerate(store.pending_statuses(doc_id)):
            if i:
                await pause_between_statuses()
            reply = sim.status_package(agency, package, owed["status_code"])
            status_doc_id, to_code = uuid.uuid4().hex, package.sender.organ_id
            released = store.release_status(owed["id"], doc_id=status_doc_id, sender_doc_id=uuid.uuid4().hex,
                                            from_code=agency.code, to_code=to_code, data=reply)
            recipient = agencies.by_code(to_code)
            if released and recipient is not None and recipient.simulated:
                spawn(simulated_receive(recipient, status_doc_id))

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    # --- VXP operations ------------------------------------------------------------------

    @app.post("/getReceivedEdocList")
    def get_received(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, params = caller(request)
        kind = params.get("messagetype", "edoc")
        rows = store.received(agency.code, kind)
        return _ok(data=[{"docId": r["doc_id"], "serviceType": "eDoc", "messageType": r["message_type"],
                          "created_time": _time(r["created"]), "updated_time": _time(r["created"]),
                          "from": r["from_code"], "to": r["to_code"], "status": r["status"], "status_desc": r["status"]}
                         for r in rows])

    @app.post("/getEdoc")
    def get_edoc(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, params = caller(request)
        item = store.item(params.get("docId") or params.get("docid") or "")
        if item is None or item["to_code"] != agency.code:
            return _fail("404", "không tìm thấy gói tin")
        return _ok(data=base64.b64encode(item["data"]).decode())

    @app.post("/updateStatus")
    def update_status(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, params = caller(request)
        doc_id = params.get("docId") or params.get("docid") or ""
        status = params.get("status", "")
        item = store.item(doc_id)
        if item is None or item["to_code"] != agency.code:
            return _fail("404", "không tìm thấy gói tin")
        if status not in ("done", "fail", "processing"):
            return _fail("400", f"trạng thái không hợp lệ: {status}")
        if not state["faults"].drop_acks:
            store.set_status(doc_id, status)
        return _ok()

    @app.post("/sendEdoc")
    async def send_edoc(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, params = caller(request)
        if state["faults"].fail_next_sends > 0:
            state["faults"].fail_next_sends -= 1
            return JSONResponse({"status": "FAIL", "ErrorCode": "20", "ErrorDesc": "lỗi hệ thống (fault)"}, status_code=503)
        data = await request.body()
        digest = hashlib.sha256(data).digest()
        declared = params.get("hash-file", "").lower()
        if declared not in (digest.hex(), "".join(f"{b:x}" for b in digest)):  # the SDK's unpadded variant too
            return _fail("10", "hash-file không khớp với nội dung")
        if params.get("from") != agency.code:
            return _fail("19", f"đơn vị gửi {params.get('from')} không thuộc hệ thống {agency.systemid}")
        try:
            to_codes = json.loads(params.get("to", "[]"))
            assert isinstance(to_codes, list) and to_codes
        except (ValueError, AssertionError):
            return _fail("18", "danh sách đơn vị nhận không hợp lệ")
        unknown = [c for c in to_codes if agencies.by_code(c) is None]
        if unknown:
            return _fail("18", f"không tìm thấy đơn vị nhận: {', '.join(unknown)}")
        kind = params.get("messagetype", "edoc")
        header = peek_header(data)
        if header.kind != kind:
            return _fail("22", f"gói tin không đúng định dạng edXML ({kind})")
        title = notation = ""
        if kind == "edoc":
            try:
                package = parse_edoc(data)
                title, notation = package.subject, package.code.full
            except EdxmlError as exc:
                return _fail("22", f"gói tin không đúng định dạng edXML: {exc}")
        sender_doc_id = uuid.uuid4().hex
        for code in to_codes:
            deliver(agency.code, code, kind, data, sender_doc_id, title, notation)
        return _ok(DocId=sender_doc_id)

    @app.post("/getSentEdocList")
    def get_sent(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, params = caller(request)
        rows = store.sent(agency.code, params.get("messagetype", "edoc"), params.get("docId"))
        return _ok(data=[{"serviceType": "eDoc", "messageType": r["message_type"], "senderDocId": r["sender_doc_id"],
                          "receiverDocId": r["doc_id"], "fromCode": r["from_code"], "toCode": r["to_code"],
                          "title": r["title"], "notation": r["notation"], "sentTime": _time(r["created"]),
                          "receivedTime": _time(r["status_at"]) if r["status"] != "pending" else "",
                          "sendStatus": "done", "sendStatusDesc": "Đã gửi lên trục",
                          "receiveStatus": r["status"], "receiveStatusDesc": r["status"]} for r in rows])

    @app.get("/countReceiveEdoc")
    @app.post("/countReceiveEdoc")
    def count_edoc(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, _ = caller(request)
        return _ok(count=len(store.received(agency.code, "edoc")))

    @app.get("/countReceiveStatus")
    @app.post("/countReceiveStatus")
    def count_status(request: Request):
        if (down := unavailable()) is not None:
            return down
        agency, _ = caller(request)
        return _ok(count=len(store.received(agency.code, "status")))

    @app.post("/getAgenciesList")
    def agencies_list(request: Request):
        if (down := unavailable()) is not None:
            return down
        caller(request)
        return _ok(data=[{"id": i, "pid": None, "code": a.code, "name": a.name, "mail": "", "oldCode": "", "code102": a.code}
                         for i, a in enumerate(agencies.agencies, 1)])

    # --- PKI of the simulated agencies ---------------------------------------------------

    @app.get("/pki/{code}/crl")
    def crl(code: str):
        if not state["crl"].reachable:
            return Response("CRL temporarily unavailable (fault)", status_code=503)
        if code not in pki.agencies:
            raise HTTPException(404, "unknown agency")
        return Response(pki.crl_der(code), media_type="application/pkix-crl")

    @app.get("/pki/{code}/ca.pem")
    def ca(code: str):
        if code not in pki.agencies:
            raise HTTPException(404, "unknown agency")
        return Response(pki.ca_pem(code), media_type="application/x-pem-file")

    # --- simulated agencies --------------------------------------------------------------

    def simulated(code: str) -> Agency:
        agency = agencies.by_code(code)
        if agency is None or not agency.simulated:
            raise HTTPException(404, f"{code} is not a simulated agency")
        return agency

    @app.post("/_sim/agencies/{code}/send")
    async def sim_send(code: str, body: SimSend):
        agency = simulated(code)
        if body.fault and body.fault not in FAULTS:
            raise HTTPException(422, f"unknown fault {body.fault!r}; one of {', '.join(FAULTS)}")
        if agencies.by_code(body.to) is None:
            raise HTTPException(422, f"unknown recipient {body.to}")
        documents = []
        for _ in range(body.count):
            package, data = await run_in_threadpool(
                sim.issue, agency, to=body.to, subject=body.subject, type_name=body.type_name, code_notation=body.code_notation,
                urgency=body.urgency, due_date=body.due_date, fault=body.fault, code_number=body.code_number)
            if body.business_doc_type:
                business = package.business.model_copy(update={
                    "business_doc_type": BusinessDocType(body.business_doc_type), "document_id": body.business_document_id or "",
                    "business_doc_reason": body.business_doc_reason,
                    "replacements": [Replacement(document_id=body.business_document_id or "", organ_ids=[body.to])]
                    if body.business_doc_type == BusinessDocType.REPLACE else []})
                package = package.model_copy(update={"business": business})
                data = build_edoc(package)
            if body.reply_to_document_id:
                organ, issued, code = (body.reply_to_document_id.split(",", 2) + ["", ""])[:3]
                try:
                    issued_on = dt.datetime.strptime(issued, "%Y/%m/%d").date()
                except ValueError:
                    issued_on = None
                package = package.model_copy(update={"response_for": [ResponseFor(
                    organ_id=organ, code=code, promulgation_date=issued_on, document_id=body.reply_to_document_id)]})
                data = build_edoc(package)
            if body.attachment_bytes:
                filler = b"%PDF-1.7\n" + os.urandom(max(body.attachment_bytes - 9, 0))
                package = package.model_copy(update={"attachments": [*package.attachments, Attachment(
                    content_id=f"cid:{uuid.uuid4()}", attachment_name="phu-luc.pdf", description="Phụ lục",
                    content_type="application/pdf", content=filler)]})
                data = await run_in_threadpool(build_edoc, package)
            axis_doc_id = deliver(agency.code, body.to, "edoc", data, uuid.uuid4().hex, package.subject, package.code.full)
            documents.append({"document_id": package.document_id, "axis_doc_id": axis_doc_id, "code": package.code.full})
        return {"documents": documents}

    @app.post("/_sim/agencies/{code}/send-raw")
    async def sim_send_raw(code: str, request: Request, to: str = "000.24.26.H56"):
        """These bytes delivered as they are, without the axis's own edXML check (what a lenient
        or compromised axis passes on): the hostile-input tests reach the commune's own parser."""
        agency = simulated(code)
        if agencies.by_code(to) is None:
            raise HTTPException(422, f"unknown recipient {to}")
        return {"axis_doc_id": deliver(agency.code, to, "edoc", await request.body(), uuid.uuid4().hex)}

    @app.post("/_sim/agencies/{code}/recall")
    async def sim_recall(code: str, body: SimRecall):
        """The agency recalls a document it issued: status 13, ResponseFor = that document (§2.5)."""
        agency = simulated(code)
        if agencies.by_code(body.to) is None:
            raise HTTPException(422, f"unknown recipient {body.to}")
        parts = body.document_id.split(",", 2)  # "<organ>,<yyyy/MM/dd>,<số/ký hiệu>"
        try:
            issued = dt.datetime.strptime(parts[1], "%Y/%m/%d").date() if len(parts) == 3 else None
        except ValueError:
            issued = None
        data = build_status(StatusPackage(
            sender=Organization(organ_id=agency.code, organ_name=agency.name),
            response_for=ResponseFor(organ_id=agency.code, code=parts[2] if len(parts) == 3 else "",
                                     promulgation_date=issued, document_id=body.document_id),
            staff_info=StaffInfo(department="Văn thư", staff=f"Văn thư {agency.name}"),
            status_code=StatusCode("13"), description=body.reason, timestamp=utcnow()))
        return {"axis_doc_id": deliver(agency.code, body.to, "status", data, uuid.uuid4().hex)}

    @app.post("/_sim/agencies/{code}/redeliver")
    async def sim_redeliver(code: str, body: SimRedeliver):
        """The same bytes again as a new axis item: a duplicate for the receiver to recognise."""
        agency = simulated(code)
        item = store.item(body.axis_doc_id)
        if item is None or item["from_code"] != agency.code:
            raise HTTPException(404, f"{code} sent no item {body.axis_doc_id}")
        return {"axis_doc_id": deliver(agency.code, item["to_code"], item["message_type"], item["data"], uuid.uuid4().hex,
                                       item["title"], item["notation"])}

    @app.get("/_sim/agencies/{code}/inbox")
    def sim_inbox(code: str):
        return store.inbox(simulated(code).code)

    @app.get("/_sim/agencies/{code}/statuses")
    def sim_statuses(code: str):
        return store.statuses(simulated(code).code)

    @app.post("/_sim/agencies/{code}/revoke")
    def sim_revoke(code: str, role: str = "leader"):
        return {"revoked_serial": pki.revoke(simulated(code).code, role)}

    # --- fault switches ------------------------------------------------------------------

    @app.get("/_control/faults")
    def get_faults() -> Faults:
        return state["faults"]

    @app.post("/_control/faults")
    def set_faults(faults: Faults) -> Faults:
        state["faults"] = faults
        return faults

    @app.get("/_control/crl")
    def get_crl() -> CrlControl:
        return state["crl"]

    @app.post("/_control/crl")
    def set_crl(control: CrlControl) -> CrlControl:
        state["crl"] = control
        return control

    return app
