"""The dossier catalogue's use cases (R-10.1): the chairman approves the year's entries; an
officer proposes a dossier outside the catalogue and a leader approves or refuses it."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from services.archive.adapters import repository as repo
from services.archive.domain import catalogue as rules
from services.archive.domain.dossiers import require_role
from shared.clock import utcnow
from shared.staff import LEADERS, Role, load_staff


def _role(ctx, user: str) -> Role | None:
    member = load_staff(ctx.settings.staff_file).get(user)
    return member.role if member else None


def _entry(year: int, notation: str, title: str, retention: str, keeper: str, heading: str, state: rules.EntryState,
           by: str, note: str = "") -> dict:
    rules.check_year(year)
    notation = rules.check_notation(notation)
    if not title.strip():
        raise rules.CatalogueError("Tiêu đề hồ sơ không được để trống.")
    kept = rules.parse_retention(retention)
    now = utcnow()
    return {"_id": rules.entry_id(year, notation), "year": year, "notation": notation, "title": title.strip(),
            "heading": heading.strip(), "retention": kept.to_dict(), "maintenance": kept.label_vi, "keeper": keeper,
            "state": state.value, "note": note, "history": [{"at": now, "by": by, "action": state.value}],
            "created_at": now}


async def add_entries(ctx, year: int, entries: list[dict], *, by: str) -> list[dict]:
    """The year's catalogue (or entries added to it) as approved by the chairman or a vice-chairman."""
    require_role(_role(ctx, by), LEADERS, "phê duyệt danh mục hồ sơ")
    docs = [_entry(year, e["notation"], e["title"], e["retention"], e["keeper"], e.get("heading", ""),
                   rules.EntryState.APPROVED, by, e.get("note", "")) for e in entries]
    staff = load_staff(ctx.settings.staff_file)
    for doc in docs:
        if staff.get(doc["keeper"]) is None:
            raise rules.CatalogueError(f"Người lập hồ sơ «{doc['keeper']}» không có trong danh sách cán bộ.")

    async def work(uow):
        for doc in docs:
            try:
                await uow.db[repo.CATALOGUE].insert_one(doc, session=uow.session)
            except DuplicateKeyError as exc:
                raise rules.CatalogueError(f"Danh mục năm {year} đã có hồ sơ số {doc['notation']}.", conflict=True) from exc
            uow.audit("catalogue.entry.approved", subject_type="catalogue", subject_id=doc["_id"], actor=by,
                      details={"title": doc["title"], "retention": doc["maintenance"], "keeper": doc["keeper"]})

    await ctx.store.transaction(work)
    return docs


async def propose(ctx, year: int, *, by: str, notation: str, title: str, retention: str, heading: str = "",
                  note: str = "") -> dict:
    """A dossier outside the catalogue, proposed by the officer who will keep it (R-10.1)."""
    require_role(_role(ctx, by), (Role.OFFICER, Role.CLERK, *LEADERS), "đề nghị bổ sung hồ sơ")
    doc = _entry(year, notation, title, retention, by, heading, rules.EntryState.PROPOSED, by, note)

    async def work(uow):
        try:
            await uow.db[repo.CATALOGUE].insert_one(doc, session=uow.session)
        except DuplicateKeyError as exc:
            raise rules.CatalogueError(f"Danh mục năm {year} đã có hồ sơ số {doc['notation']}.", conflict=True) from exc
        uow.audit("catalogue.entry.proposed", subject_type="catalogue", subject_id=doc["_id"], actor=by,
                  details={"title": doc["title"], "retention": doc["maintenance"]})

    await ctx.store.transaction(work)
    return doc


async def decide(ctx, year: int, notation: str, *, by: str, approve: bool, reason: str = "") -> dict:
    require_role(_role(ctx, by), LEADERS, "duyệt hồ sơ ngoài danh mục")
    if not approve and not reason.strip():
        raise rules.CatalogueError("Từ chối phải ghi lý do.")
    eid = rules.entry_id(year, notation)
    state = rules.EntryState.APPROVED if approve else rules.EntryState.REFUSED

    async def work(uow):
        doc = await uow.db[repo.CATALOGUE].find_one_and_update(
            {"_id": eid, "state": rules.EntryState.PROPOSED.value},
            {"$set": {"state": state.value, "decision": {"by": by, "at": utcnow(), "reason": reason}},
             "$push": {"history": {"at": utcnow(), "by": by, "action": state.value, "reason": reason}}},
            session=uow.session, return_document=True)
        if doc is None:
            raise rules.CatalogueError("Không có đề nghị nào đang chờ duyệt với số hồ sơ này.", conflict=True)
        uow.audit(f"catalogue.entry.{state.value}", subject_type="catalogue", subject_id=eid, actor=by,
                  details={"reason": reason})
        return doc

    return await ctx.store.transaction(work)


async def entries(ctx, year: int) -> list[dict]:
    return await ctx.store.db[repo.CATALOGUE].find({"year": year}, sort=[("heading", 1), ("notation", 1)]).to_list()
