"""Catalogue, dossiers, the archive's acceptance, retention and disposal, through the archive's
use cases on the real store (R-10.1, R-10.2, R-10.4, R-10.5, R-10.6, R-11.1, R-11.3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import types
import uuid
import zipfile

import pytest

from localaxis.agencies import Agency
from localaxis.pki import AxisPki
from localaxis.simulator import AGENCY_FIELD, _sign
from services.archive.adapters import repository as repo
from services.archive.adapters.pdf_facts import page_count
from services.archive.domain.catalogue import CatalogueError
from services.archive.domain.dossiers import DossierError, DossierState
from services.archive.handlers import catalogue, disposal, dossiers, review
from shared.blobs import BlobStore, sha256_hex
from shared.clock import utcnow
from shared.config import Settings
from shared.db import Store
from shared.pdfdocs import LEADER_FIELD, DocumentText, render_document

SENDER = "000.00.00.H56"
YEAR = 2026
CODE = f"000.24.26.H56.{YEAR}.01.VP"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    agency = Agency(code=SENDER, name="UBND tỉnh Thanh Hóa", systemid="s", secret="s", simulated=True)
    keys = AxisPki(tmp_path_factory.mktemp("pki"), "http://127.0.0.1:9", [agency])  # CRL unreachable: not checked
    keys.ensure()
    return keys


@pytest.fixture
async def ctx(mongodb_url, pki, tmp_path):
    settings = Settings(mongodb_url=mongodb_url, trust_roots=[pki.directory / "trust-roots.pem"], var_dir=tmp_path)
    store = Store(mongodb_url, f"t{uuid.uuid4().hex[:10]}_archive")
    await repo.ensure_indexes(store.db)
    files = BlobStore(store, "archive", bucket="files")
    await files.ensure_indexes()
    yield types.SimpleNamespace(settings=settings, store=store, extras={"files": files})
    await store.client.drop_database(store.db.name)
    await store.close()


def _signed_pdf(pki: AxisPki, subject: str) -> bytes:
    pdf = _sign(render_document(DocumentText(subject=subject)).pdf, pki.signer(SENDER, "leader"), LEADER_FIELD)
    return _sign(pdf, pki.signer(SENDER, "agency"), AGENCY_FIELD)


async def _record(ctx, source: str, pdf: bytes, *, issued: str, subject: str) -> str:
    kept = await ctx.extras["files"].put(pdf, media_type="application/pdf", name="van-ban.pdf")
    rid = f"{source}:{uuid.uuid4().hex}"
    await ctx.store.db[repo.RECORDS].insert_one({
        "_id": rid, "source": source, "document_key": rid.split(":")[1], "year": YEAR, "code": "15/QĐ-UBND",
        "type_name": "Quyết định", "subject": subject, "issued_date": issued, "state": "kept", "dossiers": [],
        "access": {"restricted": False, "users": []}, "stored_at": utcnow(), "page_count": page_count(pdf),
        "files": [{"sha256": kept.sha256, "size": kept.size, "name": "van-ban.pdf", "media_type": "application/pdf",
                   "role": "main", "pages": page_count(pdf)}]})
    return rid


async def _catalogue(ctx, retention: str = "10 năm") -> None:
    await catalogue.add_entries(ctx, YEAR, [
        {"notation": "01.VP", "title": "Hồ sơ ban hành quy chế văn bản điện tử", "retention": retention,
         "keeper": "cc.vanphong", "heading": "I. VĂN PHÒNG"}], by="chutich")


async def _closed_dossier(ctx, pki, retention: str = "10 năm") -> tuple[list[str], dict]:
    await _catalogue(ctx, retention)
    await dossiers.open_dossier(ctx, year=YEAR, notation="01.VP", by="cc.vanphong")
    later = await _record(ctx, "outgoing", await asyncio.to_thread(_signed_pdf, pki, "Về việc ban hành quy chế"), issued="2026-05-10",
                          subject="Về việc ban hành quy chế")
    earlier = await _record(ctx, "incoming", await asyncio.to_thread(_signed_pdf, pki, "Về việc xây dựng quy chế"), issued="2026-03-02",
                            subject="Về việc xây dựng quy chế")
    await dossiers.add_item(ctx, CODE, record_id=later, by="cc.vanphong")
    await dossiers.add_item(ctx, CODE, record_id=earlier, by="cc.vanphong")
    return [earlier, later], await dossiers.close(ctx, CODE, by="cc.vanphong")


async def test_catalogue_entries_and_a_proposal_outside_it_need_a_leader(ctx):
    """R-10.1: the catalogue is approved by a leader; a dossier outside it is proposed by an
    officer and usable only after approval."""
    with pytest.raises(DossierError):
        await catalogue.add_entries(ctx, YEAR, [{"notation": "01.VP", "title": "x", "retention": "5", "keeper": "luutru"}],
                                    by="cc.vanphong")
    await _catalogue(ctx)
    with pytest.raises(CatalogueError, match="đã có"):
        await _catalogue(ctx)
    with pytest.raises(CatalogueError, match="không đúng dạng"):
        await catalogue.propose(ctx, YEAR, by="cc.tuphap", notation="hồ sơ 1", title="x", retention="5 năm")
    await catalogue.propose(ctx, YEAR, by="cc.tuphap", notation="07.TP", title="Hồ sơ hòa giải cơ sở", retention="10 năm")
    with pytest.raises(CatalogueError, match="R-10.1"):
        await dossiers.open_dossier(ctx, year=YEAR, notation="07.TP", by="cc.tuphap")
    with pytest.raises(DossierError):
        await catalogue.decide(ctx, YEAR, "07.TP", by="cc.tuphap", approve=True)
    decided = await catalogue.decide(ctx, YEAR, "07.TP", by="phochutich", approve=True)
    assert decided["state"] == "approved"
    opened = await dossiers.open_dossier(ctx, year=YEAR, notation="07.TP", by="cc.tuphap")
    assert opened["_id"] == f"000.24.26.H56.{YEAR}.07.TP" and opened["maintenance"] == "10 năm"
    with pytest.raises(DossierError, match="do cc.vanphong lập"):
        await dossiers.open_dossier(ctx, year=YEAR, notation="01.VP", by="cc.tuphap")
    audit = await ctx.store.db["audit_log"].distinct("action")
    assert {"catalogue.entry.approved", "catalogue.entry.proposed", "dossier.opened"} <= set(audit)


async def test_dossier_code_order_and_system_fields_then_closing(ctx, pki):
    """R-10.4 code; R-10.6 organ, year, document and page counts filled by the system;
    chronological DocOrdinal; R-10.5 closing completes the dates."""
    (earlier, later), closed = await _closed_dossier(ctx, pki)
    assert closed["_id"] == CODE and closed["organ_id"] == "000.24.26.H56" and closed["year"] == YEAR
    assert [(i["record_id"], i["ordinal"]) for i in closed["items"]] == [(earlier, 1), (later, 2)]
    assert closed["doc_total"] == 2 and closed["page_total"] >= 2
    assert (closed["start_date"], closed["end_date"]) == ("2026-03-02", "2026-05-10")
    assert closed["state"] == DossierState.CLOSED and closed["closed_at"]
    record = await repo.get(ctx.store.db, earlier)
    assert record["dossiers"] == [CODE]
    with pytest.raises(DossierError, match="Đã đóng"):
        await dossiers.add_item(ctx, CODE, record_id=earlier, by="cc.vanphong")


async def test_an_empty_dossier_does_not_close(ctx):
    await _catalogue(ctx)
    await dossiers.open_dossier(ctx, year=YEAR, notation="01.VP", by="cc.vanphong")
    with pytest.raises(DossierError, match="chưa có văn bản"):
        await dossiers.close(ctx, CODE, by="cc.vanphong")


async def test_material_is_converted_beside_the_original(ctx):
    """R-10.1 related material; R-9.1 the conversion for reading never replaces the original."""
    await _catalogue(ctx)
    await dossiers.open_dossier(ctx, year=YEAR, notation="01.VP", by="cc.vanphong")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as odt:
        odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        odt.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                     'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
                     '<office:text><text:p>Ý kiến chỉ đạo của Chủ tịch</text:p></office:text></office:body></office:document-content>')
        odt.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                     '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
                     '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    data = buffer.getvalue()
    dossier = await dossiers.add_material(ctx, CODE, by="cc.vanphong", data=data, filename="y-kien.odt",
                                          title="Ý kiến chỉ đạo", kind="Ý kiến chỉ đạo")
    [item] = dossier["items"]
    record = await repo.get(ctx.store.db, item["record_id"])
    original, conversion = record["files"]
    assert original["sha256"] == sha256_hex(data) and original["role"] == "main"
    assert conversion["role"] == "conversion" and conversion["derived_from"] == original["sha256"]
    assert await ctx.extras["files"].get(original["sha256"]) == data
    assert (await ctx.extras["files"].get(conversion["sha256"])).startswith(b"%PDF")
    text = await ctx.store.db[repo.RECORD_TEXTS].find_one({"_id": record["_id"]})
    assert "Ý kiến chỉ đạo" in text["text"]
    with pytest.raises(DossierError, match="Định dạng"):
        await dossiers.add_material(ctx, CODE, by="cc.vanphong", data=b"MZ\x90\x00" + bytes(300), filename="a.pdf",
                                    title="x", kind="x")


async def test_accepted_dossier_is_archival_and_refuses_every_change(ctx, pki):
    """R-11.3: checked (complete, hashes, signatures), accepted, then read-only."""
    (earlier, _), _ = await _closed_dossier(ctx, pki)
    with pytest.raises(DossierError):
        await review.accept(ctx, CODE, by="luutru")  # not submitted yet
    await dossiers.submit(ctx, CODE, by="cc.vanphong")
    with pytest.raises(DossierError, match="Vai trò"):
        await review.accept(ctx, CODE, by="cc.vanphong")
    accepted = await review.accept(ctx, CODE, by="luutru")
    assert accepted["state"] == DossierState.ARCHIVAL and accepted["review"]["passed"]
    kinds = {c["name"] for c in accepted["review"]["checks"]}
    assert {"fields", "completeness", "hash", "signature"} <= kinds
    changes = [
        dossiers.update_fields(ctx, CODE, by="cc.vanphong", fields={"title": "Tiêu đề mới"}),
        dossiers.add_item(ctx, CODE, record_id=earlier, by="cc.vanphong"),
        dossiers.remove_item(ctx, CODE, record_id=earlier, by="cc.vanphong"),
        dossiers.add_material(ctx, CODE, by="cc.vanphong", data=b"%PDF-1.4", filename="a.pdf", title="x", kind="x"),
        dossiers.close(ctx, CODE, by="cc.vanphong"),
        dossiers.reopen(ctx, CODE, by="chutich", reason="sửa"),
        dossiers.submit(ctx, CODE, by="cc.vanphong"),
        review.return_to_officer(ctx, CODE, by="luutru", reasons="x"),
    ]
    for change in changes:
        with pytest.raises(DossierError):
            await change
    stored = await repo.get_dossier(ctx.store.db, CODE)
    assert stored["title"] == accepted["title"] and stored["version"] == accepted["version"]


async def test_a_tampered_file_is_found_and_the_dossier_returned(ctx, pki):
    """R-11.3 with R-4.1: the archivist's check re-reads every file; a changed byte refuses
    acceptance and names the document; the officer gets it back with the reasons."""
    (earlier, _), _ = await _closed_dossier(ctx, pki)
    await dossiers.submit(ctx, CODE, by="cc.vanphong")
    record = await repo.get(ctx.store.db, earlier)
    grid = await ctx.store.db["files.files"].find_one({"metadata.sha256": record["files"][0]["sha256"]}) or \
        await ctx.store.db["files.files"].find_one({"filename": record["files"][0]["sha256"]})
    chunk = await ctx.store.db["files.chunks"].find_one({"files_id": grid["_id"], "n": 0})
    data = bytearray(chunk["data"])
    data[200] ^= 0xFF
    await ctx.store.db["files.chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": bytes(data)}})
    with pytest.raises(DossierError, match=earlier):
        await review.accept(ctx, CODE, by="luutru")
    returned = await review.return_to_officer(ctx, CODE, by="luutru", reasons="Tệp văn bản đến bị hỏng")
    assert returned["state"] == DossierState.OPEN and returned["returns"][0]["reasons"] == "Tệp văn bản đến bị hỏng"


async def test_short_retention_is_not_submitted(ctx, pki):
    await _closed_dossier(ctx, pki, retention="2 năm")
    with pytest.raises(DossierError, match="dưới 5 năm"):
        await dossiers.submit(ctx, CODE, by="cc.vanphong")


async def test_restricted_dossier_hides_its_documents_from_other_officers(ctx, pki):
    await _catalogue(ctx)
    await dossiers.open_dossier(ctx, year=YEAR, notation="01.VP", by="cc.vanphong", rights="Hạn chế")
    rid = await _record(ctx, "incoming", render_document().pdf, issued="2026-03-02", subject="Về việc thanh tra")
    await dossiers.add_item(ctx, CODE, record_id=rid, by="cc.vanphong")
    assert (await repo.get(ctx.store.db, rid))["access"] == {"restricted": True, "users": ["cc.vanphong"]}
    with pytest.raises(DossierError, match="hạn chế"):
        await dossiers.get_visible(ctx, CODE, "cc.tuphap")
    assert (await dossiers.get_visible(ctx, CODE, "chutich"))["_id"] == CODE
    assert [d["_id"] for d in await dossiers.list_visible(ctx, "cc.tuphap")] == []
    await dossiers.update_fields(ctx, CODE, by="cc.vanphong", fields={"rights": "Công khai"})
    assert (await repo.get(ctx.store.db, rid))["access"] == {"restricted": False, "users": []}


async def test_disposal_needs_expiry_two_people_a_bin_period_and_no_hold(ctx, pki):
    """R-11.1: expiry from closing + retention; the archivist proposes, the chairman approves;
    the bin is recoverable; a legal hold stops it; then content destroyed, tombstone kept."""
    (earlier, later), _ = await _closed_dossier(ctx, pki)
    await dossiers.submit(ctx, CODE, by="cc.vanphong")
    await review.accept(ctx, CODE, by="luutru")
    with pytest.raises(DossierError, match="Chưa hết thời hạn"):
        await disposal.propose(ctx, CODE, by="luutru", reason="Hết hạn")
    # Another dossier keeps the outgoing document: its bytes must survive this destruction.
    await catalogue.add_entries(ctx, YEAR, [{"notation": "02.VP", "title": "Hồ sơ văn bản đi", "retention": "Vĩnh viễn",
                                             "keeper": "cc.vanphong"}], by="chutich")
    other = (await dossiers.open_dossier(ctx, year=YEAR, notation="02.VP", by="cc.vanphong"))["_id"]
    await dossiers.add_item(ctx, other, record_id=later, by="cc.vanphong")
    eleven_years_ago = utcnow() - dt.timedelta(days=365 * 11)
    await ctx.store.db[repo.DOSSIERS].update_one({"_id": CODE}, {"$set": {"closed_at": eleven_years_ago}})
    assert [d["_id"] for d in await disposal.expired(ctx)] == [CODE]

    with pytest.raises(DossierError, match="Vai trò"):
        await disposal.propose(ctx, CODE, by="cc.vanphong", reason="Hết hạn")
    await disposal.propose(ctx, CODE, by="luutru", reason="Hết thời hạn bảo quản 10 năm")
    with pytest.raises(DossierError, match="Vai trò"):
        await disposal.approve(ctx, CODE, by="luutru")
    await disposal.set_hold(ctx, CODE, by="chutich", reason="Đang thanh tra", hold=True)
    with pytest.raises(DossierError, match="phong tỏa"):
        await disposal.approve(ctx, CODE, by="chutich")
    await disposal.set_hold(ctx, CODE, by="chutich", reason="Kết thúc thanh tra", hold=False)
    binned = await disposal.approve(ctx, CODE, by="chutich")
    assert binned["state"] == DossierState.IN_BIN and binned["disposal"]["records_in_bin"] == [earlier]
    assert (await repo.get(ctx.store.db, earlier))["state"] == "in_bin"
    assert await disposal.destroy_due(ctx) == []  # the bin period has not passed

    restored = await disposal.restore(ctx, CODE, by="luutru", reason="Nhầm hồ sơ")
    assert restored["state"] == DossierState.ARCHIVAL and (await repo.get(ctx.store.db, earlier))["state"] == "kept"
    await disposal.propose(ctx, CODE, by="luutru", reason="Hết thời hạn bảo quản 10 năm")
    await disposal.approve(ctx, CODE, by="chutich")
    await disposal.set_hold(ctx, CODE, by="luutru", reason="Tranh chấp", hold=True)
    after_bin = utcnow() + dt.timedelta(days=ctx.settings.disposal_bin_days + 1)
    assert await disposal.destroy_due(ctx, after_bin) == []  # held in the bin: not destroyed
    await disposal.set_hold(ctx, CODE, by="luutru", reason="Hết tranh chấp", hold=False)
    assert await disposal.destroy_due(ctx, after_bin) == [CODE]

    gone, kept = await repo.get(ctx.store.db, earlier), await repo.get(ctx.store.db, later)
    assert gone["state"] == "destroyed" and gone["files"][0]["destroyed"]
    assert not await ctx.extras["files"].exists(gone["files"][0]["sha256"])
    assert kept["state"] == "kept" and await ctx.extras["files"].exists(kept["files"][0]["sha256"])
    tombstone = await ctx.store.db[repo.TOMBSTONES].find_one({"_id": CODE})
    assert (tombstone["proposed_by"], tombstone["approved_by"]) == ("luutru", "chutich")
    assert [d["record_id"] for d in tombstone["documents"]] == [earlier] and tombstone["destroyed_at"]
    assert (await repo.get_dossier(ctx.store.db, CODE))["state"] == DossierState.DESTROYED
    actions = await ctx.store.db["audit_log"].find({"subject_id": CODE}).distinct("action")
    assert {"dossier.disposal_proposed", "dossier.disposal_approved", "dossier.hold_placed",
            "dossier.restored_from_bin", "dossier.destroyed"} <= set(actions)
