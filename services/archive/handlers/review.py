"""The agency archive checks a submitted dossier and accepts or returns it (R-11.3): complete
(every document there, not withdrawn, the fields filled), every file's SHA-256 re-read from the
store (R-4.1), signatures still valid against the trust roots (R-6.1). Once accepted the
dossier is an electronic archival dossier and refuses every change."""

from __future__ import annotations

from services.archive.adapters import repository as repo
from services.archive.domain import dossiers as rules
from services.archive.domain.dossiers import DossierError, DossierState, ReviewCheck
from services.archive.handlers.dossiers import change_dossier
from shared.blobs import BlobIntegrityError, BlobNotFound
from shared.clock import utcnow
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from shared.staff import Role

SIGNED_SOURCES = ("incoming", "outgoing")


async def run_checks(ctx, dossier: dict) -> list[ReviewCheck]:
    checks: list[ReviewCheck] = []
    problems = rules.closing_problems(dossier)
    checks.append(ReviewCheck("fields", not problems, " ".join(problems) or "Đủ các trường thông tin (Phụ lục VI)."))
    files_bucket = ctx.extras["files"]
    roots = load_trust_roots(ctx.settings.trust_roots)
    crl_cache = ctx.extras.setdefault("crl_cache", CrlCache(ctx.settings.crl_cache_seconds))
    for item in dossier["items"]:
        rid = item["record_id"]
        record = await repo.get(ctx.store.db, rid)
        if record is None or record.get("withdrawn") or record.get("state", "kept") != "kept":
            checks.append(ReviewCheck("completeness", False, "Văn bản không còn trong kho (thu hồi hoặc hủy).", rid))
            continue
        checks.append(ReviewCheck("completeness", True, "Có trong kho.", rid))
        for entry in record["files"]:
            try:
                data = await files_bucket.get(entry["sha256"])  # checks the hash while reading
            except BlobNotFound:
                checks.append(ReviewCheck("hash", False, f"Thiếu tệp «{entry['name']}».", rid))
                continue
            except BlobIntegrityError:
                checks.append(ReviewCheck("hash", False, f"Tệp «{entry['name']}» đã bị thay đổi (SHA-256 không khớp).", rid))
                continue
            checks.append(ReviewCheck("hash", True, f"«{entry['name']}»: SHA-256 khớp.", rid))
            if record["source"] in SIGNED_SOURCES and entry.get("role", "main") == "main" and entry["media_type"] == "application/pdf":
                checks.append(await _signature_check(data, roots, crl_cache, rid, entry["name"]))
    return checks


async def _signature_check(pdf: bytes, roots, crl_cache, rid: str, name: str) -> ReviewCheck:
    facts = await validate_pdf_signatures(pdf, roots, crl_cache=crl_cache, final_attempt=True)
    if not facts:
        return ReviewCheck("signature", False, f"«{name}» không có chữ ký số.", rid)
    bad = [f for f in facts if not (f.intact and f.valid and f.trusted and not f.modified_after and not f.revoked)]
    if bad:
        return ReviewCheck("signature", False, "Chữ ký không còn hợp lệ: " + ", ".join(
            f"{f.signer_cn or f.field} ({f.note or f.trust_problem or 'không hợp lệ'})" for f in bad), rid)
    return ReviewCheck("signature", True, f"«{name}»: {len(facts)} chữ ký hợp lệ ({', '.join(f.level for f in facts)}).", rid)


async def review(ctx, code: str, *, by: str) -> dict:
    """The archivist's check, kept on the dossier; changes nothing else."""
    dossier = await repo.get_dossier(ctx.store.db, code)
    if dossier is None:
        raise LookupError(code)
    checks = await run_checks(ctx, dossier)
    report = {"at": utcnow(), "by": by, "passed": rules.review_verdict(checks), "checks": [c.to_dict() for c in checks]}

    async def change(d, uow):
        return {**d, "review": report}

    return await change_dossier(ctx, code, by, "reviewed", change, allowed_states=(DossierState.SUBMITTED,),
                                action_vi="kiểm tra hồ sơ nộp lưu", keeper_only=False, roles=(Role.ARCHIVIST,),
                                details={"passed": report["passed"]})


async def accept(ctx, code: str, *, by: str) -> dict:
    """R-11.3: accepted only when every check passes, re-run at this moment."""
    reviewed = await review(ctx, code, by=by)
    if not reviewed["review"]["passed"]:
        failed = [c for c in reviewed["review"]["checks"] if not c["ok"]]
        raise DossierError("Chưa tiếp nhận được: " + "; ".join(f"{c['subject']} {c['detail_vi']}".strip() for c in failed),
                           conflict=True)

    async def change(d, uow):
        return {**d, "state": DossierState.ARCHIVAL.value, "archived_at": utcnow(), "archived_by": by}

    return await change_dossier(ctx, code, by, "accepted", change, allowed_states=(DossierState.SUBMITTED,),
                                action_vi="tiếp nhận hồ sơ", keeper_only=False, roles=(Role.ARCHIVIST,))


async def return_to_officer(ctx, code: str, *, by: str, reasons: str) -> dict:
    if not reasons.strip():
        raise DossierError("Trả lại hồ sơ phải ghi lý do.")

    async def change(d, uow):
        return {**d, "state": DossierState.OPEN.value, "closed_at": None, "submitted_at": None,
                "returns": [*d.get("returns", []), {"at": utcnow(), "by": by, "reasons": reasons}]}

    return await change_dossier(ctx, code, by, "returned", change, allowed_states=(DossierState.SUBMITTED,),
                                action_vi="trả lại hồ sơ", keeper_only=False, roles=(Role.ARCHIVIST,),
                                details={"reasons": reasons})
