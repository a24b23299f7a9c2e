"""A dossier as a self-describing package (R-11.1, R-11.3; NĐ 30 Phụ lục VI: export a dossier
to PDF and XML in chronological order): a BagIt 1.0 bag (RFC 8493) that another system, or a
later archive, can check with any BagIt tool and import back exactly.

Layout (inside one top folder named after the dossier code):

    bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
    data/dossier.json                 the dossier document, MongoDB Extended JSON (canonical)
    data/dossier.xml                  NĐ 30 Phụ lục VI fields (English tags) and the document list
    data/premis.xml                   PREMIS 3 objects (fixity) and events (the audit log)
    data/index.pdf                    "Mục lục văn bản trong hồ sơ"
    data/records/<NNN>-<id>/record.json   the record document (Extended JSON)
    data/records/<NNN>-<id>/text.txt      its extracted text, when there is one
    data/records/<NNN>-<id>/files/<KK>-<name>   file KK (1-based) of the record's `files`

NNN is the document's ordinal in the dossier (DocOrdinal, chronological). File names are made
safe (ASCII, no separators); the original name stays in record.json. Canonical Extended JSON
keeps types (datetimes with their milliseconds, 64-bit integers), so import restores the
documents equal to what was exported.

Everything here is pure: bytes and dicts in, bytes and dicts out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bson import json_util
from bson.binary import UuidRepresentation
from bson.json_util import JSONMode, JSONOptions
from bson.tz_util import utc
from lxml import etree

PACKAGE_VERSION = "1"
BAGIT_VERSION = "1.0"
PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
BAGIT_TXT = f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode()

# Canonical mode: every BSON type round-trips (datetime → $date, int → $numberInt/$numberLong).
EJSON = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, tzinfo=utc,
                    uuid_representation=UuidRepresentation.STANDARD)
# For human-readable event details inside XML.
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=utc,
                      uuid_representation=UuidRepresentation.STANDARD)

LAYOUT_NOTE = ("data/dossier.json and data/records/*/record.json are MongoDB Extended JSON (canonical); "
               "data/records/NNN-*/files/KK-* is file KK of the record's files list; "
               "data/dossier.xml carries the ND 30 Annex VI fields; data/premis.xml the events.")


# --- errors (a clerk reads them: English and Vietnamese) -----------------------------------------

@dataclass(frozen=True)
class Problem:
    en: str
    vi: str

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "vi": self.vi}


class PackageError(Exception):
    """Export or import refused; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, en: str, vi: str, problems: Iterable[Problem] = ()) -> None:
        self.en, self.vi, self.problems = en, vi, list(problems)
        super().__init__(en + ("" if not self.problems else ": " + "; ".join(p.en for p in self.problems)))

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.en, "loi": self.vi, "problems": [p.as_dict() for p in self.problems]}


class DossierNotFound(PackageError):
    status = 404


class DossierExists(PackageError):
    status = 409


class InvalidPackage(PackageError):
    status = 422


class ArchiveInconsistent(PackageError):
    """The archive's own data cannot make a complete package (a record or a file is missing)."""

    status = 500


# --- JSON ----------------------------------------------------------------------------------------

def to_json(doc: Any) -> bytes:
    return json_util.dumps(doc, json_options=EJSON, ensure_ascii=False, indent=1).encode() + b"\n"


def from_json(data: bytes) -> Any:
    return json_util.loads(data.decode("utf-8"), json_options=EJSON)


# --- names ---------------------------------------------------------------------------------------

def safe_name(name: str, *, limit: int = 80) -> str:
    """An ASCII file or folder name no tool misreads: letters without diacritics, digits,
    `.`, `-`, `_`; never empty, never starting with a dot."""
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    if len(text) > limit:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: limit - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else text[:limit]
    return text or "file"


def record_folder(ordinal: int, record_id: str) -> str:
    return f"records/{ordinal:03d}-{safe_name(record_id)}"


def file_path(folder: str, index: int, name: str) -> str:
    """File `index` (1-based) of a record: the index makes it unique and tells which entry it is."""
    return f"{folder}/files/{index:02d}-{safe_name(name)}"


def name_problem(name: str) -> str | None:
    """Why a zip entry name cannot be extracted safely, or None."""
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        return "'.' or '..' in the path"
    return None


def is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


# --- the dossier's records in order --------------------------------------------------------------

def ordered_items(dossier: dict) -> list[dict]:
    """The documents in chronological order (DocOrdinal)."""
    return sorted(dossier.get("items") or [], key=lambda item: (item.get("ordinal") or 0, item.get("record_id")))


def split_code(code: str | None) -> tuple[str, str]:
    """`15/QĐ-UBND` → (`15`, `QĐ-UBND`): CodeNumber and CodeNotation (NĐ 30 Phụ lục VI)."""
    if not code:
        return "", ""
    number, slash, notation = code.partition("/")
    return (number.strip(), notation.strip()) if slash else ("", code.strip())


def organ_name(record: dict, agency_name: str) -> str:
    """Who issued the document: the sender of an incoming one, us for an outgoing one."""
    if record.get("source") == "outgoing":
        return agency_name
    sender = record.get("sender") or {}
    return sender.get("name") or sender.get("organ_name") or record.get("organ_name") or ""


def totals(records: list[dict]) -> tuple[int, int]:
    """R-10.6: the system counts the documents and the pages itself."""
    return len(records), sum(int(r.get("page_count") or 0) for r in records)


# --- dossier.xml (NĐ 30 Phụ lục VI III, document fields of I/II) -----------------------------

def _text(parent: etree._Element, tag: str, value: Any) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if value is not None:
        element.text = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
    return element


def dossier_xml(dossier: dict, records: list[dict], *, agency_name: str) -> bytes:
    """`records` in the order of `ordered_items(dossier)`."""
    doc_total, page_total = totals(records)
    root = etree.Element("Dossier", Version=PACKAGE_VERSION)
    code = etree.SubElement(root, "FileCode")
    _text(code, "OrganId", dossier.get("organ_id"))
    _text(code, "FileCatalog", dossier.get("year"))
    _text(code, "FileNotation", dossier.get("notation"))
    _text(root, "Code", dossier["_id"])
    _text(root, "Title", dossier.get("title"))
    _text(root, "Maintenance", dossier.get("maintenance"))
    _text(root, "Rights", dossier.get("rights"))
    _text(root, "Creator", dossier.get("creator_name") or dossier.get("creator"))
    _text(root, "Language", dossier.get("language"))
    _text(root, "StartDate", dossier.get("start_date"))
    _text(root, "EndDate", dossier.get("end_date"))
    _text(root, "DocTotal", dossier.get("doc_total") if dossier.get("doc_total") is not None else doc_total)
    _text(root, "PageTotal", dossier.get("page_total") if dossier.get("page_total") is not None else page_total)
    _text(root, "Description", dossier.get("description"))
    documents = etree.SubElement(root, "Documents")
    for item, record in zip(ordered_items(dossier), records):
        number, notation = split_code(record.get("code"))
        document = etree.SubElement(documents, "Document", RecordId=record["_id"], Kind=str(item.get("kind") or ""))
        _text(document, "DocOrdinal", item.get("ordinal"))
        _text(document, "TypeName", record.get("type_name"))
        _text(document, "CodeNumber", number)
        _text(document, "CodeNotation", notation)
        _text(document, "IssuedDate", record.get("issued_date"))
        _text(document, "OrganName", organ_name(record, agency_name))
        _text(document, "Subject", record.get("subject"))
        _text(document, "Language", record.get("language") or dossier.get("language"))
        _text(document, "PageAmount", record.get("page_count"))
        _text(document, "Description", record.get("description"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- premis.xml ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileObject:
    """One file of the package for PREMIS and the manifests."""

    path: str  # inside data/
    sha256: str
    size: int
    media_type: str
    original_name: str
    record_id: str


def _p(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PREMIS_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _identifier(parent: etree._Element, tag: str, kind: str, value: str) -> None:
    ident = _p(parent, tag)
    _p(ident, f"{tag}Type", kind)
    _p(ident, f"{tag}Value", value)


def _subject_type(entry: dict) -> str:
    return "vanthu-dossier" if entry.get("subject_type") == "dossier" else "vanthu-record"


def premis_xml(dossier: dict, records: list[dict], files: list[FileObject], events: list[dict]) -> bytes:
    """PREMIS 3: the dossier and its records as intellectual entities, each file with its SHA-256
    fixity, and the audit log entries of the dossier and its records as events (R-4.1)."""
    root = etree.Element(f"{{{PREMIS_NS}}}premis", nsmap={"premis": PREMIS_NS, "xsi": XSI_NS}, version="3.0")
    xsi_type = f"{{{XSI_NS}}}type"
    entity = _p(root, "object")
    entity.set(xsi_type, "premis:intellectualEntity")
    _identifier(entity, "objectIdentifier", "vanthu-dossier", dossier["_id"])
    for record in records:
        entity = _p(root, "object")
        entity.set(xsi_type, "premis:intellectualEntity")
        _identifier(entity, "objectIdentifier", "vanthu-record", record["_id"])
        relation = _p(entity, "relationship")
        _p(relation, "relationshipType", "structural")
        _p(relation, "relationshipSubType", "is included in")
        _identifier(relation, "relatedObjectIdentifier", "vanthu-dossier", dossier["_id"])
    for item in files:
        obj = _p(root, "object")
        obj.set(xsi_type, "premis:file")
        _identifier(obj, "objectIdentifier", "sha256", item.sha256)
        _identifier(obj, "objectIdentifier", "bag-path", f"data/{item.path}")
        characteristics = _p(obj, "objectCharacteristics")
        _p(characteristics, "compositionLevel", "0")
        fixity = _p(characteristics, "fixity")
        _p(fixity, "messageDigestAlgorithm", "SHA-256")
        _p(fixity, "messageDigest", item.sha256)
        _p(characteristics, "size", str(item.size))
        designation = _p(_p(characteristics, "format"), "formatDesignation")
        _p(designation, "formatName", item.media_type or "application/octet-stream")
        _p(obj, "originalName", item.original_name)
        relation = _p(obj, "relationship")
        _p(relation, "relationshipType", "structural")
        _p(relation, "relationshipSubType", "is included in")
        _identifier(relation, "relatedObjectIdentifier", "vanthu-record", item.record_id)
    agents: dict[str, None] = {}
    for entry in sorted(events, key=lambda e: (e.get("at") or dt.datetime.min.replace(tzinfo=dt.timezone.utc), str(e.get("_id")))):
        event = _p(root, "event")
        _identifier(event, "eventIdentifier", "vanthu-audit", str(entry.get("_id")))
        _p(event, "eventType", str(entry.get("action")))
        at = entry.get("at")
        _p(event, "eventDateTime", at.isoformat() if isinstance(at, dt.datetime) else str(at))
        details = entry.get("details")
        if details:
            _p(_p(event, "eventDetailInformation"), "eventDetail",
               json_util.dumps(details, json_options=RELAXED, ensure_ascii=False, sort_keys=True))
        actor = str(entry.get("actor") or "unknown")
        agents[actor] = None
        _identifier(event, "linkingAgentIdentifier", "vanthu-user", actor)
        _identifier(event, "linkingObjectIdentifier", _subject_type(entry), str(entry.get("subject_id")))
    for actor in agents:
        agent = _p(root, "agent")
        _identifier(agent, "agentIdentifier", "vanthu-user", actor)
        _p(agent, "agentType", "software" if actor.startswith("system:") else "person")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- the index (Mục lục văn bản trong hồ sơ) ------------------------------------------------------

INDEX_COLUMNS = ("Số TT", "Số, ký hiệu văn bản", "Ngày tháng văn bản", "Tên loại và trích yếu nội dung văn bản",
                 "Tác giả văn bản", "Tờ số", "Ghi chú")
INDEX_WIDTHS_MM = (14, 36, 24, 110, 48, 20, 25)  # 277 mm, A4 landscape inside the margins


def _vn_date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return str(value or "")


def index_rows(dossier: dict, records: list[dict], *, agency_name: str) -> list[list[str]]:
    rows, sheet = [], 1
    for item, record in zip(ordered_items(dossier), records):
        pages = int(record.get("page_count") or 0)
        sheets = f"{sheet}-{sheet + pages - 1}" if pages > 1 else (str(sheet) if pages else "")
        sheet += pages
        type_subject = " ".join(x for x in (record.get("type_name"), record.get("subject")) if x)
        rows.append([str(item.get("ordinal") or ""), record.get("code") or "", _vn_date(record.get("issued_date")),
                     type_subject, organ_name(record, agency_name), sheets, record.get("description") or ""])
    return rows


def index_title(dossier: dict) -> str:
    return f"MỤC LỤC VĂN BẢN — Hồ sơ {dossier['_id']}: {dossier.get('title') or ''}".strip()


# --- BagIt tag files -----------------------------------------------------------------------------

def hexdigest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bag_size(octets: int) -> str:
    size = float(octets)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{octets} B"  # pragma: no cover


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def bag_info(*, source_organization: str, code: str, bagging_date: dt.date, octets: int, count: int,
             extra: dict[str, str] | None = None) -> bytes:
    fields = {
        "Source-Organization": source_organization,
        "External-Identifier": code,
        "External-Description": LAYOUT_NOTE,
        "Bagging-Date": bagging_date.isoformat(),
        "Payload-Oxum": f"{octets}.{count}",
        "Bag-Size": bag_size(octets),
        "Bag-Software-Agent": "vanthu archive",
        "Vanthu-Package-Version": PACKAGE_VERSION,
        **(extra or {}),
    }
    return "".join(f"{label}: {_one_line(value)}\n" for label, value in fields.items()).encode()


def _encode_path(path: str) -> str:
    # RFC 8493 §2.1.3: CR, LF and % are percent-encoded in manifest paths.
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r").replace("%25", "%")


def manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """`entries`: (path relative to the bag, SHA-256)."""
    return "".join(f"{digest}  {_encode_path(path)}\n" for path, digest in sorted(entries)).encode()


def parse_manifest(data: bytes, name: str) -> dict[str, str]:
    """path → digest; InvalidPackage on a malformed line or a path listed twice."""
    result: dict[str, str] = {}
    problems = []
    for number, line in enumerate(data.decode("utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, path = line.strip().partition(" ")
        path = _decode_path(path.strip().lstrip("*"))
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digest) or not path:
            problems.append(Problem(f"{name} line {number} is not '<sha256> <path>'",
                                    f"{name} dòng {number} không đúng dạng '<sha256> <đường dẫn>'"))
        elif path in result:
            problems.append(Problem(f"{name} lists {path} twice", f"{name} liệt kê {path} hai lần"))
        else:
            result[path] = digest.lower()
    if problems:
        raise InvalidPackage("the package's manifest is malformed", "Tệp kê khai của gói không đúng định dạng", problems)
    return result


def parse_tags(data: bytes) -> dict[str, list[str]]:
    """A BagIt tag file (label: value, continuation lines indented)."""
    tags: dict[str, list[str]] = {}
    last: str | None = None
    for line in data.decode("utf-8-sig").splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and last is not None:
            tags[last][-1] += " " + line.strip()
            continue
        label, colon, value = line.partition(":")
        if not colon:
            raise InvalidPackage("a tag file line has no label", "Một dòng của tệp thẻ không có nhãn",
                                 [Problem(f"line {line!r}", f"dòng {line!r}")])
        last = label.strip()
        tags.setdefault(last, []).append(value.strip())
    return tags


def tag(tags: dict[str, list[str]], label: str) -> str | None:
    values = tags.get(label)
    return values[0] if values else None


def parse_oxum(value: str | None) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+)\.(\d+)", (value or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


# --- what import checks against the records -----------------------------------------------------

@dataclass
class PackagedRecord:
    folder: str  # relative to data/
    record: dict
    text: str | None = None
    # 1-based index into record["files"] → path relative to data/
    files: dict[int, str] = field(default_factory=dict)


def record_problems(dossier: dict, code: str, records: dict[str, PackagedRecord], digests: dict[str, str]) -> list[Problem]:
    """Is the content consistent with itself (R-11.3: the receiving archive checks before it
    takes over)? `digests`: payload path (relative to data/) → SHA-256 as the manifest proved."""
    problems: list[Problem] = []
    if dossier.get("_id") != code:
        problems.append(Problem(f"dossier.json is dossier {dossier.get('_id')!r}, bag-info External-Identifier is {code!r}",
                                f"dossier.json là hồ sơ {dossier.get('_id')!r}, còn External-Identifier là {code!r}"))
    listed = [item.get("record_id") for item in dossier.get("items") or []]
    for rid in listed:
        if rid not in records:
            problems.append(Problem(f"document {rid} of the dossier is not in the package",
                                    f"văn bản {rid} của hồ sơ không có trong gói"))
    for rid, packaged in records.items():
        if rid not in listed:
            problems.append(Problem(f"{packaged.folder} holds {rid}, which the dossier does not list",
                                    f"{packaged.folder} chứa {rid} nhưng hồ sơ không liệt kê văn bản này"))
        entries = packaged.record.get("files") or []
        for index in packaged.files:
            if not 1 <= index <= len(entries):
                problems.append(Problem(f"{packaged.files[index]} is not one of the files of {rid}",
                                        f"{packaged.files[index]} không phải là tệp của văn bản {rid}"))
        for index, entry in enumerate(entries, 1):
            path = packaged.files.get(index)
            if entry.get("destroyed"):
                continue  # destroyed on a recall: the record keeps only that it was there
            if path is None:
                problems.append(Problem(f"file {index} ({entry.get('name')}) of {rid} is missing from the package",
                                        f"tệp {index} ({entry.get('name')}) của văn bản {rid} không có trong gói"))
            elif digests.get(path) != entry.get("sha256"):
                problems.append(Problem(f"data/{path} does not match the SHA-256 that record {rid} gives for it",
                                        f"data/{path} không khớp mã SHA-256 ghi trong văn bản {rid}"))
    return problems


def same_record(stored: dict, packaged: dict) -> bool:
    """A document can be in several dossiers: the same record already here is not a conflict;
    only the list of dossiers it belongs to may differ."""
    return {k: v for k, v in stored.items() if k != "dossiers"} == {k: v for k, v in packaged.items() if k != "dossiers"}
