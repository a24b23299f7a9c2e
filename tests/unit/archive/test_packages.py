"""A dossier exported as a BagIt package and imported back (issue 5 item 7; R-11.1, R-11.3; NĐ 30
Phụ lục VI: export to PDF and XML in chronological order), against the real store: the bag passes
an independent validator (LoC's bagit-python), the XML carries the Annex VI tags, the import into
another database restores everything exactly, and every kind of damaged package is refused
before anything is written."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile

import bagit
import httpx
import pytest
from bson.int64 import Int64
from fastapi import Depends, FastAPI
from lxml import etree
from staff_http import StaffHttp

from services.archive.domain import bag
from services.archive.domain.access import ACCESS
from services.archive.domain.bag import DossierExists, DossierNotFound, InvalidPackage
from services.archive.entrypoints.package_api import router
from services.archive.handlers.packages import RecordConflict, check_package, export_dossier, import_dossier
from shared.auth import authorizer
from shared.blobs import BlobStore
from shared.db import AUDIT, Store
from shared.pdfdocs import DocumentText, render_document
from shared.service import ServiceContext

UTC = dt.timezone.utc
CODE = "000.24.26.H56.2026.01.VP"
PREMIS = f"{{{bag.PREMIS_NS}}}"


def _context(settings, prefix: str) -> ServiceContext:
    settings = settings.model_copy(update={"database_prefix": prefix})
    store = Store(settings.mongodb_url, settings.database_name("archive"))
    return ServiceContext("archive", settings, store, blobs=None, blob_client=None,  # type: ignore[arg-type]
                          extras={"files": BlobStore(store, "archive", bucket="files")})


@pytest.fixture
async def source(settings):
    ctx = _context(settings, settings.database_prefix)
    yield ctx
    await ctx.store.client.drop_database(ctx.store.db.name)
    await ctx.store.close()


@pytest.fixture
async def target(settings):
    ctx = _context(settings, settings.database_prefix + "b")
    yield ctx
    await ctx.store.client.drop_database(ctx.store.db.name)
    await ctx.store.close()


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", "<document>Biên bản họp thôn Đông</document>")
    return buffer.getvalue()


async def _seed(ctx: ServiceContext) -> dict[str, bytes]:
    """A closed dossier of three documents (incoming PDF, outgoing PDF with an annex, a material)."""
    files = ctx.extras["files"]
    incoming_pdf = render_document(DocumentText(issuer_parent="UBND TỈNH THANH HÓA", issuer_name="SỞ NỘI VỤ",
                                                number_notation="Số: 125/SNV-VP", type_name="CÔNG VĂN",
                                                subject="Về việc tuyển dụng công chức cấp xã")).pdf
    outgoing_pdf = render_document(DocumentText(number_notation="Số: 15/QĐ-UBND")).pdf
    annex = b"Danh sach kem theo\n" * 50
    material = _docx()
    blobs = {}
    for data, media, name in ((incoming_pdf, "application/pdf", "Công văn 125.pdf"),
                              (outgoing_pdf, "application/pdf", "QĐ 15 ký số.pdf"),
                              (annex, "text/plain", "Phụ lục/danh sách.txt"),
                              (material, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                               "Biên bản họp.docx")):
        ref = await files.put(data, media_type=media, name=name)
        blobs[name] = data
        blobs[ref.sha256] = data

    def entry(name: str, media: str, role: str, pages: int | None) -> dict:
        return {"sha256": hashlib.sha256(blobs[name]).hexdigest(), "size": len(blobs[name]), "name": name,
                "media_type": media, "role": role, "pages": pages, "derived_from": None}

    stored = dt.datetime(2026, 3, 2, 8, 15, 30, 123000, tzinfo=UTC)
    records = [
        {"_id": "incoming:000.12.00.H56-125", "source": "incoming", "year": 2026, "code": "125/SNV-VP",
         "type_name": "Công văn", "subject": "Về việc tuyển dụng công chức cấp xã", "issued_date": "2026-02-27",
         "signer": "Nguyễn Văn An", "sender": {"organ_id": "000.12.00.H56", "name": "Sở Nội vụ tỉnh Thanh Hóa"},
         "register": {"book": "incoming", "year": 2026, "number": 7}, "page_count": 1,
         "files": [entry("Công văn 125.pdf", "application/pdf", "main", 1)], "dossiers": [CODE],
         "access": {"restricted": False, "users": []}, "state": "kept", "stored_at": stored,
         "arrived_at": stored - dt.timedelta(hours=1), "verification": {"verdict": "passed", "policy": "2026.1"}},
        {"_id": "outgoing:2026-15", "source": "outgoing", "year": 2026, "code": "15/QĐ-UBND",
         "type_name": "Quyết định", "subject": "Về việc ban hành quy chế tiếp nhận văn bản điện tử",
         "issued_date": "2026-03-05", "signer": "Lê Văn Minh",
         "recipients": [{"organ_id": "000.12.00.H56", "name": "Sở Nội vụ tỉnh Thanh Hóa"}],
         "register": {"book": "outgoing", "year": 2026, "number": 15}, "page_count": 2,
         "files": [entry("QĐ 15 ký số.pdf", "application/pdf", "main", 1),
                   entry("Phụ lục/danh sách.txt", "text/plain", "annex", 1)],
         "dossiers": [CODE], "access": {"restricted": True, "users": ["chutich"]}, "state": "kept",
         "stored_at": stored + dt.timedelta(days=3), "big": Int64(2**40)},
        {"_id": "material:6f1c", "source": "material", "year": 2026, "code": None, "type_name": "Biên bản",
         "subject": "Biên bản họp thôn Đông", "issued_date": "2026-03-10", "page_count": 3,
         "organ_name": "Thôn Đông", "files": [entry("Biên bản họp.docx", material_media(), "attachment", 3)],
         "dossiers": [CODE], "access": {"restricted": False, "users": []}, "state": "kept",
         "stored_at": stored + dt.timedelta(days=8)},
    ]
    db = ctx.store.db
    await db["records"].insert_many(records)
    await db["record_texts"].insert_many([
        {"_id": "incoming:000.12.00.H56-125", "text": "SỞ NỘI VỤ\nCÔNG VĂN\nVề việc tuyển dụng công chức cấp xã\n"},
        {"_id": "material:6f1c", "text": "Biên bản họp thôn Đông"},
    ])
    # Items listed out of order on purpose: the package is chronological by DocOrdinal.
    items = [{"record_id": "material:6f1c", "ordinal": 3, "kind": "material", "added_by": "vanthu",
              "added_at": stored + dt.timedelta(days=8)},
             {"record_id": "incoming:000.12.00.H56-125", "ordinal": 1, "kind": "incoming", "added_by": "vanthu",
              "added_at": stored},
             {"record_id": "outgoing:2026-15", "ordinal": 2, "kind": "outgoing", "added_by": "vanthu",
              "added_at": stored + dt.timedelta(days=3)}]
    await db["dossiers"].insert_one({
        "_id": CODE, "organ_id": "000.24.26.H56", "year": 2026, "notation": "01.VP",
        "title": "Hồ sơ tuyển dụng công chức năm 2026", "maintenance": "10 năm",
        "retention": {"permanent": False, "years": 10}, "rights": "Hạn chế", "creator": "vanthu",
        "creator_name": "Nguyễn Thị Lan", "language": "Tiếng Việt", "start_date": "2026-02-27", "end_date": "2026-03-10",
        "doc_total": 3, "page_total": 6, "description": "Gồm công văn đến, quyết định và biên bản",
        "catalogue_entry": "2026:01.VP", "items": items, "state": "closed",
        "closed_at": dt.datetime(2026, 3, 12, 1, 2, 3, 456000, tzinfo=UTC), "submitted_at": None, "archived_at": None,
        "legal_hold": False, "history": [{"at": stored, "by": "vanthu", "action": "created"}], "version": 5,
    })

    async def audit(uow):
        uow.audit("dossier.created", subject_type="dossier", subject_id=CODE, actor="vanthu", details={"title": "x"})
        uow.audit("record.stored", subject_type="record", subject_id="outgoing:2026-15", actor="system:archive",
                  details={"at": stored})
        uow.audit("record.stored", subject_type="record", subject_id="other:1", actor="system:archive")

    await ctx.store.transaction(audit)
    return blobs


def material_media() -> str:
    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _entries(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _rebag(entries: dict[str, bytes]) -> bytes:
    """What someone who edits a bag and fixes its manifests would make: every BagIt check passes."""
    root = f"{CODE}/"
    payload = {name[len(root):]: data for name, data in entries.items() if name.startswith(root + "data/")}
    entries[root + "manifest-sha256.txt"] = bag.manifest((path, bag.hexdigest(data)) for path, data in payload.items())
    info = entries[root + "bag-info.txt"].decode()
    info = re.sub(r"Payload-Oxum: .*", f"Payload-Oxum: {sum(map(len, payload.values()))}.{len(payload)}", info)
    entries[root + "bag-info.txt"] = info.encode()
    entries[root + "tagmanifest-sha256.txt"] = bag.manifest(
        (name, bag.hexdigest(entries[root + name])) for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt"))
    return _zip(entries)


async def _all(ctx: ServiceContext, collection: str) -> dict:
    return {doc["_id"]: doc for doc in await ctx.store.db[collection].find({}).to_list()}


# --- export ----------------------------------------------------------------------------------------

async def test_the_export_is_a_valid_bag_with_annex_vi_xml_premis_and_an_index(source, tmp_path):
    blobs = await _seed(source)
    package = await export_dossier(source, CODE)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert all(name.startswith(f"{CODE}/") for name in names)

    checked = bagit.Bag(str(tmp_path / CODE))  # LoC's validator, independent of ours
    checked.validate()
    assert checked.version_info == (1, 0) and checked.algorithms == ["sha256"]
    assert checked.info["External-Identifier"] == CODE
    assert checked.info["Source-Organization"] == "Ủy ban nhân dân xã Hoằng Đức (000.24.26.H56)"
    assert checked.info["Vanthu-Package-Version"] == bag.PACKAGE_VERSION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", checked.info["Bagging-Date"]) and checked.info["Bag-Size"]
    assert set(checked.tagfile_entries()) == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt"}

    data = tmp_path / CODE / "data"
    # Chronological by DocOrdinal; files under safe names, KK = their place in the record.
    assert sorted(p.name for p in (data / "records").iterdir()) == [
        "001-incoming_000.12.00.H56-125", "002-outgoing_2026-15", "003-material_6f1c"]
    outgoing = data / "records" / "002-outgoing_2026-15" / "files"
    assert sorted(p.name for p in outgoing.iterdir()) == ["01-QD_15_ky_so.pdf", "02-Phu_luc_danh_sach.txt"]
    assert (outgoing / "01-QD_15_ky_so.pdf").read_bytes() == blobs["QĐ 15 ký số.pdf"]
    record = bag.from_json((data / "records" / "002-outgoing_2026-15" / "record.json").read_bytes())
    assert record["files"][1]["name"] == "Phụ lục/danh sách.txt" and record["big"] == 2**40
    assert (data / "records" / "003-material_6f1c" / "text.txt").read_text("utf-8") == "Biên bản họp thôn Đông"
    assert (data / "index.pdf").read_bytes().startswith(b"%PDF")

    xml = etree.fromstring((data / "dossier.xml").read_bytes())
    assert [xml.findtext(f"FileCode/{t}") for t in ("OrganId", "FileCatalog", "FileNotation")] == ["000.24.26.H56", "2026", "01.VP"]
    for tag_name, value in (("Title", "Hồ sơ tuyển dụng công chức năm 2026"), ("Maintenance", "10 năm"), ("Rights", "Hạn chế"),
                            ("Creator", "Nguyễn Thị Lan"), ("Language", "Tiếng Việt"), ("StartDate", "2026-02-27"),
                            ("EndDate", "2026-03-10"), ("DocTotal", "3"), ("PageTotal", "6"),
                            ("Description", "Gồm công văn đến, quyết định và biên bản")):
        assert xml.findtext(tag_name) == value, tag_name
    documents = xml.findall("Documents/Document")
    assert [d.findtext("DocOrdinal") for d in documents] == ["1", "2", "3"]
    assert [(d.findtext("CodeNumber"), d.findtext("CodeNotation")) for d in documents] == [
        ("125", "SNV-VP"), ("15", "QĐ-UBND"), ("", "")]
    assert [d.findtext("OrganName") for d in documents] == ["Sở Nội vụ tỉnh Thanh Hóa", "UBND xã Hoằng Đức", "Thôn Đông"]
    assert [d.findtext("PageAmount") for d in documents] == ["1", "2", "3"]
    assert documents[1].findtext("IssuedDate") == "2026-03-05" and documents[1].findtext("TypeName") == "Quyết định"

    premis = etree.fromstring((data / "premis.xml").read_bytes())
    assert premis.tag == f"{PREMIS}premis"
    events = premis.findall(f"{PREMIS}event")
    assert [e.findtext(f"{PREMIS}eventType") for e in events] == ["dossier.created", "record.stored"]  # not other:1
    assert events[0].findtext(f"{PREMIS}linkingAgentIdentifier/{PREMIS}linkingAgentIdentifierValue") == "vanthu"
    assert events[1].findtext(f"{PREMIS}linkingObjectIdentifier/{PREMIS}linkingObjectIdentifierValue") == "outgoing:2026-15"
    assert events[0].findtext(f"{PREMIS}eventDateTime") and events[0].findtext(f"{PREMIS}eventIdentifier/{PREMIS}eventIdentifierValue")
    fixities = {f.findtext(f"{PREMIS}messageDigest") for f in premis.iter(f"{PREMIS}fixity")}
    assert fixities == {hashlib.sha256(blobs[n]).hexdigest()
                        for n in ("Công văn 125.pdf", "QĐ 15 ký số.pdf", "Phụ lục/danh sách.txt", "Biên bản họp.docx")}
    assert "Biên bản họp.docx" in {o.text for o in premis.iter(f"{PREMIS}originalName")}


async def test_an_unknown_dossier_is_not_exported(source):
    with pytest.raises(DossierNotFound) as caught:
        await export_dossier(source, "000.24.26.H56.2026.99.VP")
    assert caught.value.status == 404 and "Không có hồ sơ" in caught.value.vi


# --- import ----------------------------------------------------------------------------------------

async def test_import_into_another_archive_restores_everything_exactly(source, target):
    blobs = await _seed(source)
    package = await export_dossier(source, CODE)

    answer = await import_dossier(target, package, "luutru")
    assert answer["code"] == CODE and sorted(answer["records_added"]) == sorted(await _all(source, "records"))

    for collection in ("dossiers", "records", "record_texts"):
        assert await _all(target, collection) == await _all(source, collection), collection
    dossier = (await _all(target, "dossiers"))[CODE]
    assert dossier["closed_at"] == dt.datetime(2026, 3, 12, 1, 2, 3, 456000, tzinfo=UTC)
    assert dossier["closed_at"].utcoffset() == dt.timedelta(0)
    assert type((await _all(target, "records"))["outgoing:2026-15"]["big"]) is Int64
    for name in ("Công văn 125.pdf", "QĐ 15 ký số.pdf", "Phụ lục/danh sách.txt", "Biên bản họp.docx"):
        assert await target.extras["files"].get(hashlib.sha256(blobs[name]).hexdigest()) == blobs[name]
    imported = await target.store.db[AUDIT].find_one({"action": "dossier.imported"})
    assert imported["subject_id"] == CODE and imported["actor"] == "luutru"
    assert imported["details"]["package_sha256"] == hashlib.sha256(package).hexdigest()

    with pytest.raises(DossierExists) as again:
        await import_dossier(target, package, "luutru")
    assert again.value.status == 409 and "đã có" in again.value.vi
    assert await target.store.db[AUDIT].count_documents({"action": "dossier.imported"}) == 1


async def test_a_document_already_here_is_shared_and_one_with_other_content_refused(source, target):
    await _seed(source)
    package = await export_dossier(source, CODE)
    material = (await _all(source, "records"))["material:6f1c"]
    await target.store.db["records"].insert_one({**material, "dossiers": ["000.24.26.H56.2026.02.VP"]})
    answer = await import_dossier(target, package, "luutru")
    assert answer["records_already_here"] == ["material:6f1c"]
    shared = (await _all(target, "records"))["material:6f1c"]
    assert shared["dossiers"] == ["000.24.26.H56.2026.02.VP", CODE]

    other = _context(target.settings, target.settings.database_prefix + "c")
    try:
        await other.store.db["records"].insert_one({**material, "subject": "Biên bản khác"})
        with pytest.raises(RecordConflict) as caught:
            await import_dossier(other, package, "luutru")
        assert caught.value.status == 409 and "material:6f1c" in str(caught.value)
        assert await other.store.db["dossiers"].count_documents({}) == 0
        assert await other.store.db["records"].count_documents({}) == 1
    finally:
        await other.store.client.drop_database(other.store.db.name)
        await other.store.close()


async def _refused(target: ServiceContext, package: bytes) -> InvalidPackage:
    with pytest.raises(InvalidPackage) as caught:
        await import_dossier(target, package, "luutru")
    assert caught.value.status == 422 and caught.value.vi
    for collection in ("dossiers", "records", "record_texts", "files.files"):
        assert await target.store.db[collection].count_documents({}) == 0, collection  # nothing written
    return caught.value


async def test_one_changed_payload_byte_is_refused_naming_the_file(source, target):
    await _seed(source)
    entries = _entries(await export_dossier(source, CODE))
    name = f"{CODE}/data/records/002-outgoing_2026-15/files/02-Phu_luc_danh_sach.txt"
    entries[name] = b"X" + entries[name][1:]
    error = await _refused(target, _zip(entries))
    assert any("data/records/002-outgoing_2026-15/files/02-Phu_luc_danh_sach.txt" in p.en for p in error.problems)
    assert "changed" in str(error)


async def test_path_traversal_is_refused(source, target):
    await _seed(source)
    entries = _entries(await export_dossier(source, CODE))
    entries["../evil.txt"] = b"owned"
    error = await _refused(target, _zip(entries))
    assert "../evil.txt" in str(error) and "unsafe" in error.en
    entries.pop("../evil.txt")
    entries["/etc/cron.d/x"] = b"x"
    assert "absolute" in str(await _refused(target, _zip(entries)))


async def test_edited_content_with_recomputed_manifests_is_refused(source, target, tmp_path):
    await _seed(source)
    entries = _entries(await export_dossier(source, CODE))
    # A payload file swapped and the manifests recomputed: BagIt itself is satisfied...
    swapped = dict(entries)
    swapped[f"{CODE}/data/records/001-incoming_000.12.00.H56-125/files/01-Cong_van_125.pdf"] = b"%PDF-1.7 forged"
    forged = _rebag(swapped)
    with zipfile.ZipFile(io.BytesIO(forged)) as archive:
        archive.extractall(tmp_path)
    bagit.Bag(str(tmp_path / CODE)).validate()
    # ...but the file no longer has the SHA-256 its record gives it.
    error = await _refused(target, forged)
    assert any("01-Cong_van_125.pdf" in p.en and "incoming:000.12.00.H56-125" in p.en for p in error.problems), error

    # dossier.json edited to another code: it no longer is the dossier the bag says it holds.
    edited = dict(entries)
    name = f"{CODE}/data/dossier.json"
    edited[name] = edited[name].replace(CODE.encode(), b"000.24.26.H56.2026.07.VP")
    error = await _refused(target, _rebag(edited))
    assert any("External-Identifier" in p.en for p in error.problems)

    # A document of the dossier left out of the package.
    removed = {k: v for k, v in entries.items() if "/003-material_6f1c/" not in k}
    error = await _refused(target, _rebag(removed))
    assert any("material:6f1c" in p.en and "not in the package" in p.en for p in error.problems)


async def test_broken_bags_and_zip_bombs_are_refused(source, target):
    await _seed(source)
    package = await export_dossier(source, CODE)
    entries = _entries(package)
    assert "not a zip" in str(await _refused(target, b"PK not really"))

    no_manifest = {k: v for k, v in entries.items() if not k.endswith("/manifest-sha256.txt")}
    assert "manifest-sha256.txt is missing" in str(await _refused(target, _zip(no_manifest)))

    extra = dict(entries)
    extra[f"{CODE}/data/unlisted.txt"] = b"smuggled"
    assert "data/unlisted.txt is not in manifest-sha256.txt" in str(await _refused(target, _zip(extra)))

    oxum = dict(entries)
    info = oxum[f"{CODE}/bag-info.txt"].decode()
    oxum[f"{CODE}/bag-info.txt"] = re.sub(r"Payload-Oxum: (\d+)", lambda m: f"Payload-Oxum: {int(m.group(1)) + 1}", info).encode()
    assert "Payload-Oxum" in str(await _refused(target, _zip(oxum)))  # and tagmanifest-sha256 no longer matches

    bomb = _zip({f"{CODE}/bagit.txt": bag.BAGIT_TXT, f"{CODE}/data/zeros.bin": bytes(5_000_000)})
    assert len(bomb) < 50_000
    with pytest.raises(InvalidPackage, match="unpacks to 5000"):
        check_package(io.BytesIO(bomb), max_bytes=1_000_000)
    with pytest.raises(InvalidPackage, match="entries"):
        check_package(io.BytesIO(package), max_entries=5)


# --- HTTP --------------------------------------------------------------------------------------------

async def test_the_routes_export_and_import(source, target):
    await _seed(source)
    apps = {}
    for name, ctx in (("source", source), ("target", target)):
        apps[name] = FastAPI()
        apps[name].include_router(router, dependencies=[Depends(authorizer(ACCESS, ctx.settings.auth_keys_dir))])
        apps[name].state.ctx = ctx
    staff = StaffHttp(source.settings.auth_keys_dir)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(apps["source"]), base_url="http://archive") as client:
        assert (await client.get(f"/dossiers/{CODE}/export")).status_code == 401  # no token, nothing
        # the operator runs the system but reads no documents; an officer does not export the archive's dossiers
        for user, role in (("vanhanh", "operator"), ("cc.vanphong", "officer")):
            refused = await client.get(f"/dossiers/{CODE}/export", headers=staff.headers(user, role))
            assert refused.status_code == 403, user
        answer = await client.get(f"/dossiers/{CODE}/export", headers=staff.headers("luutru"))
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert f'filename="{CODE}.zip"' in answer.headers["content-disposition"]
        package = answer.content
        assert (await client.get("/dossiers/000.24.26.H56.2026.99.VP/export", headers=staff.headers("luutru"))).status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(apps["target"]), base_url="http://archive") as client:
        headers = {"Content-Type": "application/zip", **staff.headers("luutru")}
        # only the archivist imports, and only as herself
        refused = await client.post("/dossiers/import", params={"by": "chutich"}, content=package, headers=headers)
        assert refused.status_code == 403 and "thay người khác" in refused.json()["detail"]
        chairman = {"Content-Type": "application/zip", **staff.headers("chutich")}
        assert (await client.post("/dossiers/import", content=package, headers=chairman)).status_code == 403
        assert await target.store.db["dossiers"].count_documents({}) == 0
        answer = await client.post("/dossiers/import", params={"by": "luutru"}, content=package, headers=headers)
        assert answer.status_code == 201 and answer.json()["code"] == CODE
        answer = await client.post("/dossiers/import", params={"by": "luutru"}, content=package, headers=headers)
        assert answer.status_code == 409 and "đã có" in answer.json()["detail"]["loi"]
        answer = await client.post("/dossiers/import", params={"by": "luutru"}, content=b"PK broken", headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"]["problems"]
        assert (await client.post("/dossiers/import", params={"by": "luutru"}, content=b"", headers=headers)).status_code == 422
