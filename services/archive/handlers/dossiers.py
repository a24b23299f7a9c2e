"""Dossier use cases: open from the catalogue (R-10.1, R-10.4), attach documents and related
material (R-10.1), fill the fields (R-10.2; the system's own fields R-10.6), close (R-10.5) and
submit to the agency archive (R-11.2). Every change is one transaction with its audit entry and
a history line on the dossier; a dossier the archive has accepted refuses them all (R-11.3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

from services.archive.adapters import repository as repo
from services.archive.adapters.pdf_facts import page_count, pdf_text
from services.archive.domain import dossiers as rules
from services.archive.domain.catalogue import CatalogueError, EntryState, entry_id, parse_retention, retention_of
from services.archive.domain.dossiers import DossierError, DossierState, ItemFacts
from shared import convert
from shared.clock import utcnow, vn_date
from shared.file_format import detect, pdf_problems
from shared.staff import LEADERS, Role, load_staff

OFFICE_FORMATS = {"docx": "docx", "odt": "odt", "doc": "doc", "rtf": "rtf", "xlsx": "xlsx", "ods": "ods", "xls": "xls"}


def role_of(ctx, user: str) -> Role | None:
    member = load_staff(ctx.settings.staff_file).get(user)
    return member.role if member else None


async def get_visible(ctx, code: str, user: str) -> dict:
    dossier = await repo.get_dossier(ctx.store.db, code)
    if dossier is None:
        raise LookupError(code)
    if not rules.may_see(dossier.get("access"), user, role_of(ctx, user)):
        raise DossierError("Hồ sơ có chế độ sử dụng hạn chế: bạn không được xem.", forbidden=True)
    return dossier


async def list_visible(ctx, user: str, *, year: int | None = None, state: str | None = None, limit: int = 200) -> list[dict]:
    role = role_of(ctx, user)
    if role is None:
        raise DossierError("Người dùng không có trong danh sách cán bộ.", forbidden=True)
    query: dict = {}
    if year:
        query["year"] = year
    if state:
        query["state"] = state
    if role not in rules.SEES_EVERYTHING:
        query["$or"] = [{"access.restricted": False}, {"access.users": user}]
    return await ctx.store.db[repo.DOSSIERS].find(query, sort=[("year", -1), ("_id", 1)], limit=limit,
                                                 projection={"history": 0}).to_list()


async def open_dossier(ctx, *, year: int, notation: str, by: str, rights: str = "Công khai",
                       language: str = "Tiếng Việt", description: str = "") -> dict:
    """A dossier is opened from an approved catalogue entry by the officer who keeps it (or a leader)."""
    role = role_of(ctx, by)
    rules.require_role(role, (Role.OFFICER, Role.CLERK, *LEADERS), "lập hồ sơ")
    entry = await ctx.store.db[repo.CATALOGUE].find_one({"_id": entry_id(year, notation)})
    if entry is None or entry["state"] != EntryState.APPROVED:
        raise CatalogueError(f"Danh mục hồ sơ năm {year} không có hồ sơ số «{notation}» đã được duyệt (R-10.1).")
    if by != entry["keeper"] and role not in LEADERS:
        raise DossierError(f"Hồ sơ này do {entry['keeper']} lập theo danh mục.", forbidden=True)
    if rights not in rules.RIGHTS:
        raise DossierError(f"Chế độ sử dụng phải là một trong: {', '.join(rules.RIGHTS)}.")
    keeper = load_staff(ctx.settings.staff_file).get(entry["keeper"])
    code = rules.dossier_code(ctx.settings.agency_id, year, entry["notation"])
    now = utcnow()
    dossier = {
        "_id": code, "organ_id": ctx.settings.agency_id, "year": year, "notation": entry["notation"],
        "title": entry["title"], "maintenance": entry["maintenance"], "retention": entry["retention"],
        "rights": rights, "access": rules.access_for(rights, entry["keeper"]),
        "creator": entry["keeper"], "creator_name": keeper.name if keeper else entry["keeper"],
        "language": language, "start_date": None, "end_date": None, "description": description,
        "doc_total": 0, "page_total": 0, "documents_start": None, "documents_end": None,
        "catalogue_entry": entry["_id"], "items": [], "state": DossierState.OPEN.value,
        "opened_at": now, "closed_at": None, "submitted_at": None, "archived_at": None,
        "legal_hold": None, "disposal": None, "review": None, "returns": [],
        "history": [{"at": now, "by": by, "action": "opened"}], "version": 1,
    }

    async def work(uow):
        if await uow.db[repo.DOSSIERS].find_one({"_id": code}, session=uow.session):
            raise DossierError(f"Hồ sơ {code} đã được lập.", conflict=True)
        await uow.db[repo.DOSSIERS].insert_one(dossier, session=uow.session)
        uow.audit("dossier.opened", subject_type="dossier", subject_id=code, actor=by,
                  details={"title": dossier["title"], "retention": dossier["maintenance"], "rights": rights})

    await ctx.store.transaction(work)
    return dossier


async def _facts(db, items: list[dict]) -> dict[str, ItemFacts]:
    ids = [i["record_id"] for i in items]
    rows = await db[repo.RECORDS].find({"_id": {"$in": ids}}, projection={"issued_date": 1, "stored_at": 1, "page_count": 1,
                                                                          "files.pages": 1}).to_list()
    facts = {}
    for r in rows:
        date = dt.date.fromisoformat(r["issued_date"]) if r.get("issued_date") else (
            vn_date(r["stored_at"]) if r.get("stored_at") else None)
        pages = r.get("page_count") if r.get("page_count") is not None else sum(f.get("pages", 0) for f in r.get("files", []))
        facts[r["_id"]] = ItemFacts(r["_id"], date, int(pages or 0), r.get("stored_at") or utcnow())
    return facts


Change = Callable[[dict, object], Awaitable[dict | None]]


async def change_dossier(ctx, code: str, by: str, action: str, change: Change, *, allowed_states, action_vi: str,
                  keeper_only: bool = True, details: dict | None = None, roles=None) -> dict:
    """Read, check, change, recompute the system's fields, write with the version check, audit."""
    role = role_of(ctx, by)
    rules.require_role(role, roles or (Role.OFFICER, Role.CLERK, *LEADERS), action_vi)

    async def work(uow):
        dossier = await uow.db[repo.DOSSIERS].find_one({"_id": code}, session=uow.session)
        if dossier is None:
            raise LookupError(code)
        rules.require_state(dossier, allowed_states, action_vi)
        if keeper_only:
            rules.require_keeper(dossier, by, role, action_vi)
        changed = await change(dossier, uow) or dossier
        facts = await _facts(uow.db, changed["items"])
        changed["items"] = rules.ordered_items(changed["items"], facts)
        changed.update(rules.filled_fields(changed["items"], facts))
        changed["history"] = [*changed["history"], {"at": utcnow(), "by": by, "action": action, **(details or {})}]
        saved = await repo.replace_dossier(uow, changed)
        uow.audit(f"dossier.{action}", subject_type="dossier", subject_id=code, actor=by, details=details or {})
        return saved

    return await ctx.store.transaction(work)


async def update_fields(ctx, code: str, *, by: str, fields: dict) -> dict:
    """R-10.2: the officer fills the Annex VI fields (title, dates, retention, rights, …)."""
    allowed = {"title", "rights", "language", "start_date", "end_date", "description", "retention"}
    unknown = set(fields) - allowed
    if unknown:
        raise DossierError(f"Không sửa được các trường: {', '.join(sorted(unknown))}.")

    async def change(dossier, uow):
        new = dict(dossier)
        if "retention" in fields:  # re-checked when closing (NĐ 30 Điều 29.4)
            kept = parse_retention(fields["retention"])
            new["retention"], new["maintenance"] = kept.to_dict(), kept.label_vi
        for name in ("title", "language", "description"):
            if name in fields:
                new[name] = str(fields[name]).strip()
        for name in ("start_date", "end_date"):
            if name in fields:
                new[name] = dt.date.fromisoformat(str(fields[name])).isoformat() if fields[name] else None
        if "rights" in fields:
            if fields["rights"] not in rules.RIGHTS:
                raise DossierError(f"Chế độ sử dụng phải là một trong: {', '.join(rules.RIGHTS)}.")
            new["rights"] = fields["rights"]
            new["access"] = rules.access_for(fields["rights"], dossier["creator"])
            await _refresh_access(uow, [i["record_id"] for i in new["items"]], new)
        return new

    return await change_dossier(ctx, code, by, "fields_updated", change, allowed_states=rules.EDITABLE,
                         action_vi="sửa thông tin hồ sơ", details={"fields": sorted(fields)})


async def _refresh_access(uow, record_ids: list[str], current: dict) -> None:
    """A record is restricted when any dossier holding it is restricted (Chế độ sử dụng
    «Hạn chế»); its readers are the keepers of those dossiers. `current` is the dossier being
    written, whose new state is not in the store yet."""
    for record_id in record_ids:
        others = await uow.db[repo.DOSSIERS].find(
            {"items.record_id": record_id, "_id": {"$ne": current["_id"]}, "access.restricted": True},
            projection={"creator": 1}, session=uow.session).to_list()
        keepers = {o["creator"] for o in others}
        if current["access"]["restricted"] and any(i["record_id"] == record_id for i in current["items"]):
            keepers.add(current["creator"])
        await uow.db[repo.RECORDS].update_one({"_id": record_id}, {"$set": {"access": {
            "restricted": bool(keepers), "users": sorted(keepers)}}}, session=uow.session)


async def add_item(ctx, code: str, *, record_id: str, by: str) -> dict:
    """R-10.1: a document is attached to a dossier by reference; one document may sit in
    several dossiers without being copied."""
    async def change(dossier, uow):
        record = await uow.db[repo.RECORDS].find_one({"_id": record_id}, session=uow.session)
        if record is None:
            raise DossierError(f"Kho lưu trữ không có văn bản {record_id}.")
        if record.get("withdrawn") or record.get("state", "kept") != "kept":
            raise DossierError("Văn bản đã bị thu hồi hoặc hủy, không đưa vào hồ sơ được.", conflict=True)
        if any(i["record_id"] == record_id for i in dossier["items"]):
            raise DossierError("Văn bản đã có trong hồ sơ.", conflict=True)
        if len(dossier["items"]) >= rules.MAX_ITEMS:
            raise DossierError("Hồ sơ đã đủ 999 văn bản.", conflict=True)
        await uow.db[repo.RECORDS].update_one({"_id": record_id}, {"$addToSet": {"dossiers": code}}, session=uow.session)
        new = {**dossier, "items": [*dossier["items"], {"record_id": record_id, "ordinal": 0, "kind": record["source"],
                                                         "added_by": by, "added_at": utcnow()}]}
        await _refresh_access(uow, [record_id], new)
        return new

    return await change_dossier(ctx, code, by, "item_added", change, allowed_states=rules.EDITABLE,
                         action_vi="thêm văn bản vào hồ sơ", details={"record_id": record_id})


async def remove_item(ctx, code: str, *, record_id: str, by: str) -> dict:
    async def change(dossier, uow):
        if not any(i["record_id"] == record_id for i in dossier["items"]):
            raise DossierError("Văn bản không có trong hồ sơ.", conflict=True)
        await uow.db[repo.RECORDS].update_one({"_id": record_id}, {"$pull": {"dossiers": code}}, session=uow.session)
        new = {**dossier, "items": [i for i in dossier["items"] if i["record_id"] != record_id]}
        await _refresh_access(uow, [record_id], new)
        return new

    return await change_dossier(ctx, code, by, "item_removed", change, allowed_states=rules.EDITABLE,
                         action_vi="bỏ văn bản khỏi hồ sơ", details={"record_id": record_id})


async def add_material(ctx, code: str, *, by: str, data: bytes, filename: str, title: str, kind: str) -> dict:
    """Related material (directions, comments, reports: R-10.1) uploaded into a dossier. Office
    files are converted to PDF for reading; the conversion is kept beside the original, never
    over it (R-9.1)."""
    dossier = await repo.get_dossier(ctx.store.db, code)
    if dossier is None:
        raise LookupError(code)
    rules.require_state(dossier, rules.EDITABLE, "thêm tài liệu vào hồ sơ")
    rules.require_keeper(dossier, by, role_of(ctx, by), "thêm tài liệu vào hồ sơ")
    if not data:
        raise DossierError("Tệp rỗng.")
    media_type, family = detect(data)
    if family is None:
        raise DossierError("Định dạng tệp không được chấp nhận (R-4.5: PDF, DOC/DOCX, ODT, XLS/XLSX, ODS, RTF, TXT, JPEG).")
    if family == "pdf" and (refused := await asyncio.to_thread(pdf_problems, data, must_open=True)):
        raise DossierError("; ".join(refused) + ".")
    files_bucket = ctx.extras["files"]
    original = await files_bucket.put(data, media_type=media_type, name=filename)
    files = [{"sha256": original.sha256, "size": original.size, "name": filename, "media_type": media_type,
              "role": "main"}]
    text = ""
    pdf = data if family == "pdf" else None
    if family in OFFICE_FORMATS:
        try:
            pdf = await convert.to_pdf(data, suffix=OFFICE_FORMATS[family])
        except convert.ConversionFailed as exc:
            raise DossierError(f"Không chuyển được tệp sang PDF để đọc: {exc}") from exc
        converted = await files_bucket.put(pdf, media_type="application/pdf", name=f"{filename.rsplit('.', 1)[0]}.pdf")
        files.append({"sha256": converted.sha256, "size": converted.size, "name": f"{filename.rsplit('.', 1)[0]}.pdf",
                      "media_type": "application/pdf", "role": "conversion", "derived_from": original.sha256,
                      "pages": page_count(pdf)})
    if pdf is not None:
        files[0 if pdf is data else 1]["pages"] = page_count(pdf)
        text = await pdf_text(pdf)
    rid = f"material:{uuid.uuid4().hex}"
    now = utcnow()
    record = {"_id": rid, "source": "material", "document_key": rid.split(":", 1)[1], "kind": kind, "subject": title,
              "type_name": kind, "year": dossier["year"], "issued_date": vn_date(now).isoformat(), "files": files,
              "page_count": max((f.get("pages", 0) for f in files), default=0), "stored_at": now, "state": "kept",
              "dossiers": [], "access": {"restricted": False, "users": []}, "uploaded_by": by}

    async def work(uow):
        await repo.insert(uow, record)
        if text:
            await uow.db[repo.RECORD_TEXTS].insert_one({"_id": rid, "text": text}, session=uow.session)
        uow.audit("record.stored", subject_type="record", subject_id=rid, actor=by,
                  details={"files": [{"name": f["name"], "sha256": f["sha256"], "role": f["role"]} for f in files]})

    await ctx.store.transaction(work)
    return await add_item(ctx, code, record_id=rid, by=by)


async def close(ctx, code: str, *, by: str) -> dict:
    """R-10.5: the officer reviews and closes the dossier; the system completes its fields."""
    async def change(dossier, uow):
        facts = await _facts(uow.db, dossier["items"])
        new = {**dossier, **rules.filled_fields(dossier["items"], facts)}
        new["start_date"] = new.get("start_date") or new["documents_start"]
        new["end_date"] = new.get("end_date") or new["documents_end"]
        problems = rules.closing_problems(new)
        if problems:
            raise DossierError("Chưa đóng được hồ sơ: " + " ".join(problems), conflict=True)
        return {**new, "state": DossierState.CLOSED.value, "closed_at": utcnow()}

    return await change_dossier(ctx, code, by, "closed", change, allowed_states=rules.EDITABLE, action_vi="đóng hồ sơ")


async def reopen(ctx, code: str, *, by: str, reason: str) -> dict:
    if not reason.strip():
        raise DossierError("Mở lại hồ sơ phải ghi lý do.")

    async def change(dossier, uow):
        return {**dossier, "state": DossierState.OPEN.value, "closed_at": None}

    return await change_dossier(ctx, code, by, "reopened", change, allowed_states=(DossierState.CLOSED,),
                         action_vi="mở lại hồ sơ", details={"reason": reason})


async def submit(ctx, code: str, *, by: str) -> dict:
    """R-11.2: the officer submits a closed dossier kept 5 years or more to the agency archive."""
    async def change(dossier, uow):
        if not retention_of(dossier).submitted_to_archive:
            raise DossierError("Hồ sơ có thời hạn bảo quản dưới 5 năm không nộp lưu vào lưu trữ cơ quan (NĐ 30 Điều 30).",
                               conflict=True)
        return {**dossier, "state": DossierState.SUBMITTED.value, "submitted_at": utcnow(), "submitted_by": by}

    return await change_dossier(ctx, code, by, "submitted", change, allowed_states=(DossierState.CLOSED,),
                         action_vi="nộp lưu hồ sơ")
