"""Export a dossier as a BagIt package and import one back (R-11.1 submission to an archive,
R-11.3 the receiving archive checks before it takes over; NĐ 30 Phụ lục VI: export to PDF and
XML in chronological order). The layout is in `domain/bag.py`.

Export reads the archive's collections directly (`dossiers`, `records`, `record_texts`,
`audit_log`, the GridFS bucket `files`) and writes the zip through a spooled temporary file, so
a large dossier is not held twice in memory.

Import checks the whole package before it writes anything: zip names, sizes (zip bombs), every
manifest hash, Payload-Oxum, then the content against itself (the dossier's code, its
documents, every file's SHA-256 against its record). Files go to GridFS first (content-addressed,
harmless if the rest fails), then records, texts and the dossier in one transaction with the
audit entry `dossier.imported`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from pymongo.errors import DuplicateKeyError

from services.archive.domain import bag
from services.archive.domain.bag import (
    ArchiveInconsistent,
    DossierExists,
    DossierNotFound,
    FileObject,
    InvalidPackage,
    PackagedRecord,
    PackageError,
    Problem,
)
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobStore
from shared.clock import utcnow
from shared.db import AUDIT
from shared.logging import get_logger
from shared.register_files import to_pdf

log = get_logger(__name__)

DOSSIERS = "dossiers"
RECORDS = "records"
RECORD_TEXTS = "record_texts"

# Zip bomb guard: what a package may unpack to, and how many entries it may have. A dossier of
# 999 documents with a few files each fits well inside both.
MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_ENTRIES = 20_000
SPOOL_BYTES = 32 * 1024**2  # packages smaller than this stay in memory
CHUNK = 1024**2


class RecordConflict(PackageError):
    status = 409


def _files(ctx: Any) -> BlobStore:
    files = ctx.extras.get("files")
    if files is None:
        files = ctx.extras["files"] = BlobStore(ctx.store, "archive", bucket="files")
    return files


def _limits(ctx: Any) -> tuple[int, int]:
    settings = getattr(ctx, "settings", None)
    return (int(getattr(settings, "package_max_bytes", None) or MAX_UNPACKED_BYTES),
            int(getattr(settings, "package_max_entries", None) or MAX_ENTRIES))


# --- export --------------------------------------------------------------------------------------

async def _gather(ctx: Any, code: str) -> tuple[dict, list[dict], dict[str, str], list[dict]]:
    db = ctx.store.db
    dossier = await db[DOSSIERS].find_one({"_id": code})
    if dossier is None:
        raise DossierNotFound(f"no dossier {code}", f"Không có hồ sơ {code}")
    ids = [item["record_id"] for item in bag.ordered_items(dossier)]
    found = {r["_id"]: r for r in await db[RECORDS].find({"_id": {"$in": ids}}).to_list()}
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise ArchiveInconsistent(f"dossier {code} lists documents the archive does not hold",
                                  f"Hồ sơ {code} liệt kê văn bản mà kho lưu trữ không có",
                                  [Problem(rid, rid) for rid in missing])
    texts = {t["_id"]: t.get("text") for t in await db[RECORD_TEXTS].find({"_id": {"$in": ids}}).to_list()}
    events = await db[AUDIT].find({"subject_id": {"$in": [code, *ids]}}, sort=[("at", 1), ("_id", 1)]).to_list()
    return dossier, [found[rid] for rid in ids], texts, events


class _BagWriter:
    """Writes payload files into the zip and keeps their SHA-256 for the manifest."""

    def __init__(self, archive: zipfile.ZipFile, root: str) -> None:
        self.archive, self.root = archive, root
        self.payload: dict[str, str] = {}  # path in the bag → sha256
        self.tags: dict[str, str] = {}
        self.octets = 0

    def _write(self, path: str, data: bytes) -> str:
        # PDFs and office files are already compressed; deflating them again wastes time.
        method = zipfile.ZIP_STORED if data[:4] in (b"%PDF", b"PK\x03\x04") else zipfile.ZIP_DEFLATED
        self.archive.writestr(f"{self.root}/{path}", data, compress_type=method)
        return bag.hexdigest(data)

    def payload_file(self, path: str, data: bytes) -> str:
        digest = self.payload[f"data/{path}"] = self._write(f"data/{path}", data)
        self.octets += len(data)
        return digest

    def tag_file(self, path: str, data: bytes) -> None:
        self.tags[path] = self._write(path, data)


async def write_package(ctx: Any, code: str, out: BinaryIO) -> None:
    """Write the dossier's bag as a zip into `out` (a seekable binary file)."""
    dossier, records, texts, events = await _gather(ctx, code)
    files = _files(ctx)
    settings = ctx.settings
    agency = settings.agency_name
    file_objects: list[FileObject] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        writer = _BagWriter(archive, bag.safe_name(code))
        writer.tag_file("bagit.txt", bag.BAGIT_TXT)
        for item, record in zip(bag.ordered_items(dossier), records):
            folder = bag.record_folder(int(item.get("ordinal") or 0), record["_id"])
            writer.payload_file(f"{folder}/record.json", bag.to_json(record))
            if texts.get(record["_id"]) is not None:
                writer.payload_file(f"{folder}/text.txt", texts[record["_id"]].encode("utf-8"))
            for index, entry in enumerate(record.get("files") or [], 1):
                if entry.get("destroyed"):
                    continue  # recalled: the bytes are gone by law, the record says so
                try:
                    data = await files.get(entry["sha256"])
                except (BlobNotFound, BlobIntegrityError) as exc:
                    raise ArchiveInconsistent(
                        f"file {entry.get('name')} of {record['_id']} cannot be read intact",
                        f"Không đọc được nguyên vẹn tệp {entry.get('name')} của văn bản {record['_id']}",
                        [Problem(str(exc), str(exc))]) from exc
                path = bag.file_path(folder, index, entry.get("name") or entry["sha256"])
                writer.payload_file(path, data)
                file_objects.append(FileObject(path=path, sha256=entry["sha256"], size=len(data),
                                               media_type=entry.get("media_type") or "",
                                               original_name=entry.get("name") or "", record_id=record["_id"]))
        writer.payload_file("dossier.json", bag.to_json(dossier))
        writer.payload_file("dossier.xml", bag.dossier_xml(dossier, records, agency_name=agency))
        writer.payload_file("premis.xml", bag.premis_xml(dossier, records, file_objects, events))
        rows = bag.index_rows(dossier, records, agency_name=agency)
        index_pdf = await asyncio.to_thread(to_pdf, rows, title=bag.index_title(dossier), columns=bag.INDEX_COLUMNS,
                                            widths_mm=bag.INDEX_WIDTHS_MM)
        writer.payload_file("index.pdf", index_pdf)
        writer.tag_file("bag-info.txt", bag.bag_info(
            source_organization=f"{settings.agency_full_name} ({settings.agency_id})", code=code,
            bagging_date=utcnow().date(), octets=writer.octets, count=len(writer.payload)))
        writer.tag_file(bag.MANIFEST, bag.manifest(writer.payload.items()))
        archive.writestr(f"{writer.root}/{bag.TAGMANIFEST}", bag.manifest(writer.tags.items()))
    log.info("dossier exported", code=code, documents=len(records), files=len(file_objects), octets=writer.octets)


async def export_dossier(ctx: Any, code: str) -> bytes:
    """The dossier's bag as zip bytes."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        await write_package(ctx, code, out)
        out.seek(0)
        return out.read()


# --- import: checking ----------------------------------------------------------------------------

@dataclass
class CheckedPackage:
    archive: zipfile.ZipFile
    prefix: str  # the bag's folder inside the zip ("" or "<name>/")
    code: str
    dossier: dict
    records: dict[str, PackagedRecord]
    info: dict[str, list[str]]

    def read(self, path_in_data: str) -> bytes:
        return self.archive.read(f"{self.prefix}data/{path_in_data}")


def _invalid(en: str, vi: str, problems: list[Problem] | None = None) -> InvalidPackage:
    return InvalidPackage(en, vi, problems or [])


def _digests(archive: zipfile.ZipFile, info: zipfile.ZipInfo, algorithms: list[str]) -> tuple[dict[str, str], int]:
    hashers = {alg: hashlib.new(alg) for alg in algorithms}
    size = 0
    with archive.open(info) as stream:  # zipfile stops at the declared size and checks the CRC
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return {alg: h.hexdigest() for alg, h in hashers.items()}, size


_ALGORITHMS = {"sha256": "sha256", "sha512": "sha512", "sha1": "sha1", "md5": "md5", "sha384": "sha384", "sha224": "sha224"}


def check_package(source: BinaryIO, *, max_bytes: int = MAX_UNPACKED_BYTES, max_entries: int = MAX_ENTRIES) -> CheckedPackage:
    """Every check of a package, nothing written (R-11.3). Raises InvalidPackage with every
    reason found at the stage that failed."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _invalid("the package is not a zip archive", "Gói không phải là tệp nén zip",
                       [Problem(str(exc), str(exc))]) from exc
    try:
        return _check(archive, max_bytes=max_bytes, max_entries=max_entries)
    except InvalidPackage:
        archive.close()
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, UnicodeDecodeError) as exc:
        archive.close()
        raise _invalid("the package is damaged", "Gói bị hỏng", [Problem(str(exc), str(exc))]) from exc


def _check(archive: zipfile.ZipFile, *, max_bytes: int, max_entries: int) -> CheckedPackage:
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise _invalid(f"the package has {len(infos)} entries, more than the {max_entries} allowed",
                       f"Gói có {len(infos)} mục, vượt quá giới hạn {max_entries}")
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes:
        raise _invalid(f"the package unpacks to {declared} bytes, more than the {max_bytes} allowed",
                       f"Gói giải nén ra {declared} byte, vượt quá giới hạn {max_bytes} byte")
    problems: list[Problem] = []
    seen: set[str] = set()
    for info in infos:
        reason = bag.name_problem(info.filename)
        if reason:
            problems.append(Problem(f"unsafe entry name {info.filename!r}: {reason}",
                                    f"tên mục không an toàn {info.filename!r}: {reason}"))
        if bag.is_symlink(info):
            problems.append(Problem(f"{info.filename} is a symbolic link", f"{info.filename} là liên kết tượng trưng"))
        if info.filename in seen:
            problems.append(Problem(f"{info.filename} appears twice", f"{info.filename} xuất hiện hai lần"))
        seen.add(info.filename)
    if problems:
        raise _invalid("the package has unsafe entries", "Gói có mục không an toàn", problems)

    members = {info.filename: info for info in infos if not info.is_dir()}
    if "bagit.txt" in members:
        prefix = ""
    else:
        tops = {name.split("/", 1)[0] for name in members}
        top = next(iter(tops)) if len(tops) == 1 else ""
        if not top or f"{top}/bagit.txt" not in members:
            raise _invalid("the package has no bagit.txt (not a BagIt bag)", "Gói không có bagit.txt (không phải gói BagIt)")
        prefix = f"{top}/"
    entries = {name[len(prefix):]: info for name, info in members.items()}

    def read(path: str) -> bytes:
        return archive.read(entries[path])

    declaration = bag.parse_tags(read("bagit.txt"))
    if bag.tag(declaration, "BagIt-Version") not in ("0.97", "1.0"):
        problems.append(Problem(f"bagit.txt: unsupported BagIt-Version {bag.tag(declaration, 'BagIt-Version')!r}",
                                f"bagit.txt: BagIt-Version {bag.tag(declaration, 'BagIt-Version')!r} không được hỗ trợ"))
    if (bag.tag(declaration, "Tag-File-Character-Encoding") or "").upper() != "UTF-8":
        problems.append(Problem("bagit.txt: Tag-File-Character-Encoding must be UTF-8",
                                "bagit.txt: Tag-File-Character-Encoding phải là UTF-8"))
    if "fetch.txt" in entries:
        problems.append(Problem("fetch.txt: the package must hold every file itself",
                                "fetch.txt: gói phải tự chứa mọi tệp"))
    if bag.MANIFEST not in entries:
        problems.append(Problem(f"{bag.MANIFEST} is missing", f"thiếu {bag.MANIFEST}"))
    if problems:
        raise _invalid("the package is not a valid BagIt bag", "Gói không phải gói BagIt hợp lệ", problems)

    manifests: dict[str, dict[str, str]] = {}
    tagmanifests: dict[str, dict[str, str]] = {}
    for name in entries:
        match = re.fullmatch(r"(tag)?manifest-([a-z0-9]+)\.txt", name)
        if not match:
            continue
        if match.group(2) not in _ALGORITHMS:
            problems.append(Problem(f"{name}: unsupported algorithm", f"{name}: thuật toán băm không được hỗ trợ"))
            continue
        (tagmanifests if match.group(1) else manifests)[match.group(2)] = bag.parse_manifest(read(name), name)
    if problems:
        raise _invalid("the package is not a valid BagIt bag", "Gói không phải gói BagIt hợp lệ", problems)

    # Payload: every file in every manifest, every manifest entry present, every hash equal.
    payload = {path: info for path, info in entries.items() if path.startswith("data/")}
    algorithms = sorted(manifests)
    octets, digests = 0, {}
    for path, info in sorted(payload.items()):
        found, size = _digests(archive, info, algorithms)
        octets += size
        digests[path] = found["sha256"]
        for alg in algorithms:
            expected = manifests[alg].get(path)
            if expected is None:
                problems.append(Problem(f"{path} is not in manifest-{alg}.txt", f"{path} không có trong manifest-{alg}.txt"))
            elif expected != found[alg]:
                problems.append(Problem(f"{path} does not match its {alg} in the manifest (the file was changed)",
                                        f"{path} không khớp mã {alg} trong tệp kê khai (tệp đã bị thay đổi)"))
    for alg, listed in manifests.items():
        for path in listed:
            if path not in payload:
                problems.append(Problem(f"{path} is in manifest-{alg}.txt but not in the package",
                                        f"{path} có trong manifest-{alg}.txt nhưng không có trong gói"))
    for alg, listed in tagmanifests.items():
        for path, expected in listed.items():
            if path not in entries or path.startswith("data/"):
                problems.append(Problem(f"tag file {path} of tagmanifest-{alg}.txt is not in the package",
                                        f"tệp thẻ {path} của tagmanifest-{alg}.txt không có trong gói"))
            elif _digests(archive, entries[path], [alg])[0][alg] != expected:
                problems.append(Problem(f"tag file {path} does not match tagmanifest-{alg}.txt",
                                        f"tệp thẻ {path} không khớp tagmanifest-{alg}.txt"))
    info_tags = bag.parse_tags(read("bag-info.txt")) if "bag-info.txt" in entries else {}
    oxum_value = bag.tag(info_tags, "Payload-Oxum")
    if oxum_value is not None:
        oxum = bag.parse_oxum(oxum_value)
        if oxum != (octets, len(payload)):
            problems.append(Problem(f"Payload-Oxum {oxum_value} but the payload is {octets}.{len(payload)}",
                                    f"Payload-Oxum {oxum_value} nhưng phần dữ liệu là {octets}.{len(payload)}"))
    if problems:
        raise _invalid("the package fails BagIt validation", "Gói không qua được kiểm tra BagIt", problems)

    # Content: what the bag proves intact must also agree with itself.
    code = bag.tag(info_tags, "External-Identifier")
    if not code:
        raise _invalid("bag-info.txt has no External-Identifier (the dossier code)",
                       "bag-info.txt không có External-Identifier (mã hồ sơ)")
    dossier = _json(read, "data/dossier.json")
    if not isinstance(dossier, dict) or not isinstance(dossier.get("items", []), list):
        raise _invalid("data/dossier.json is not a dossier", "data/dossier.json không phải là hồ sơ")
    records, problems = _records(entries, read, set(payload))
    stripped = {path[len("data/"):]: digest for path, digest in digests.items()}
    problems += bag.record_problems(dossier, code, records, stripped)
    if problems:
        raise _invalid("the package's content does not agree with itself", "Nội dung gói không thống nhất", problems)
    return CheckedPackage(archive=archive, prefix=prefix, code=code, dossier=dossier, records=records, info=info_tags)


def _json(read: Callable[[str], bytes], path: str) -> Any:
    try:
        return bag.from_json(read(path))
    except KeyError:
        raise _invalid(f"{path} is missing", f"thiếu {path}") from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise _invalid(f"{path} is not valid Extended JSON", f"{path} không phải JSON hợp lệ",
                       [Problem(str(exc), str(exc))]) from exc


_RECORD_PART = re.compile(r"data/(records/[^/]+)/(record\.json|text\.txt|files/(\d+)-[^/]+)")


def _records(entries: dict[str, zipfile.ZipInfo], read: Callable[[str], bytes],
             payload: set[str]) -> tuple[dict[str, PackagedRecord], list[Problem]]:
    problems: list[Problem] = []
    folders: dict[str, dict[str, Any]] = {}
    for path in sorted(payload):
        if not path.startswith("data/records/"):
            continue
        match = _RECORD_PART.fullmatch(path)
        if match is None:
            problems.append(Problem(f"{path} is not part of the package layout", f"{path} không thuộc cấu trúc gói"))
            continue
        parts = folders.setdefault(match.group(1), {"files": {}})
        if match.group(3) is not None:
            index = int(match.group(3))
            if index in parts["files"]:
                problems.append(Problem(f"{path}: two files numbered {index}", f"{path}: hai tệp cùng số {index}"))
            parts["files"][index] = path[len("data/"):]
        else:
            parts[match.group(2)] = path
    records: dict[str, PackagedRecord] = {}
    for folder, parts in folders.items():
        if "record.json" not in parts:
            problems.append(Problem(f"data/{folder} has no record.json", f"data/{folder} không có record.json"))
            continue
        record = _json(read, parts["record.json"])
        if not isinstance(record, dict) or not isinstance(record.get("_id"), str) or not isinstance(record.get("files", []), list):
            problems.append(Problem(f"{parts['record.json']} is not a record", f"{parts['record.json']} không phải là văn bản lưu trữ"))
            continue
        if record["_id"] in records:
            problems.append(Problem(f"record {record['_id']} appears twice", f"văn bản {record['_id']} xuất hiện hai lần"))
            continue
        text = read(parts["text.txt"]).decode("utf-8") if "text.txt" in parts else None
        records[record["_id"]] = PackagedRecord(folder=folder, record=record, text=text, files=parts["files"])
    return records, problems


# --- import: writing -----------------------------------------------------------------------------

def _sha256_of(source: BinaryIO) -> tuple[str, int]:
    source.seek(0)
    hasher, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    source.seek(0)
    return hasher.hexdigest(), size


async def import_dossier(ctx: Any, package: bytes | BinaryIO, by: str) -> dict:
    """Check a package completely, then restore its dossier, records, texts and files exactly.

    Refuses (typed `PackageError`, English and Vietnamese): an invalid package (422), a dossier
    code already here (409), a record already here with other content (409). A record already
    here with the same content is shared, not duplicated (a document can be in several dossiers).
    """
    source = io.BytesIO(bytes(package)) if isinstance(package, (bytes, bytearray, memoryview)) else package
    package_sha256, package_size = await asyncio.to_thread(_sha256_of, source)
    max_bytes, max_entries = _limits(ctx)
    checked = await asyncio.to_thread(check_package, source, max_bytes=max_bytes, max_entries=max_entries)
    try:
        return await _restore(ctx, checked, by, package_sha256, package_size)
    finally:
        checked.archive.close()


async def _restore(ctx: Any, checked: CheckedPackage, by: str, package_sha256: str, package_size: int) -> dict:
    db, code = ctx.store.db, checked.code
    if await db[DOSSIERS].find_one({"_id": code}, projection={"_id": 1}) is not None:
        raise DossierExists(f"dossier {code} already exists here; nothing was imported",
                            f"Hồ sơ {code} đã có trong hệ thống; không nhập gì")
    await _refuse_conflicts(db, checked, session=None)

    files = _files(ctx)
    for packaged in checked.records.values():
        entries = packaged.record.get("files") or []
        for index, path in sorted(packaged.files.items()):
            entry = entries[index - 1]
            data = await asyncio.to_thread(checked.read, path)
            await files.put(data, media_type=entry.get("media_type") or "application/octet-stream",
                            name=entry.get("name") or path.rsplit("/", 1)[-1])

    added: list[str] = []
    shared_records: list[str] = []

    async def work(uow) -> None:
        added.clear()
        shared_records.clear()
        await _refuse_conflicts(uow.db, checked, session=uow.session)
        for rid, packaged in checked.records.items():
            stored = await uow.db[RECORDS].find_one({"_id": rid}, session=uow.session)
            if stored is None:
                await uow.db[RECORDS].insert_one(packaged.record, session=uow.session)
                if packaged.text is not None:
                    await uow.db[RECORD_TEXTS].replace_one({"_id": rid}, {"_id": rid, "text": packaged.text},
                                                           upsert=True, session=uow.session)
                added.append(rid)
            else:
                if code in (packaged.record.get("dossiers") or []):
                    await uow.db[RECORDS].update_one({"_id": rid}, {"$addToSet": {"dossiers": code}}, session=uow.session)
                shared_records.append(rid)
        try:
            await uow.db[DOSSIERS].insert_one(checked.dossier, session=uow.session)
        except DuplicateKeyError:
            raise DossierExists(f"dossier {code} already exists here; nothing was imported",
                                f"Hồ sơ {code} đã có trong hệ thống; không nhập gì") from None
        uow.audit("dossier.imported", subject_type="dossier", subject_id=code, actor=by, details={
            "package_sha256": package_sha256, "package_size": package_size,
            "source_organization": bag.tag(checked.info, "Source-Organization"),
            "bagging_date": bag.tag(checked.info, "Bagging-Date"),
            "records_added": list(added), "records_already_here": list(shared_records),
        })

    await ctx.store.transaction(work)
    log.info("dossier imported", code=code, records_added=len(added), records_shared=len(shared_records),
             package_sha256=package_sha256)
    return {"code": code, "records_added": added, "records_already_here": shared_records,
            "package_sha256": package_sha256}


async def _refuse_conflicts(db, checked: CheckedPackage, *, session) -> None:
    ids = list(checked.records)
    problems = []
    async for stored in db[RECORDS].find({"_id": {"$in": ids}}, session=session):
        if not bag.same_record(stored, checked.records[stored["_id"]].record):
            problems.append(Problem(f"record {stored['_id']} exists here with other content",
                                    f"văn bản {stored['_id']} đã có trong hệ thống với nội dung khác"))
    if problems:
        raise RecordConflict(f"dossier {checked.code}: documents conflict with the archive here; nothing was imported",
                             f"Hồ sơ {checked.code}: văn bản mâu thuẫn với kho lưu trữ hiện có; không nhập gì", problems)
