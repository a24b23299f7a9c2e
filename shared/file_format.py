"""The real format of a file, from its content (R-4.5), with libmagic.

libmagic often sees only "zip" for OOXML/ODF files and only "CDFV2" for legacy Office files, so
containers are opened and identified by what they hold: the ODF `mimetype` entry, the OOXML
main part in `[Content_Types].xml` (which also tells a macro-enabled .docm/.xlsm — not an
accepted format — from .docx/.xlsx), the OLE stream names.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

import magic

# libmagic needs the whole header of OLE files, which can sit deep in a large file.
MAGIC_BYTES = 1 << 20

_MIME_FAMILIES = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/rtf": "rtf",
    "application/rtf": "rtf",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "image/jpeg": "jpeg",
}
_ZIP_MIMES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"}
_OLE_MIMES = {"application/CDFV2", "application/x-ole-storage", "application/octet-stream"}
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# OOXML main part content type → the file's MIME type.
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml":
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml":
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OVERRIDE = re.compile(rb'ContentType="([^"]+)"')


def detect(content: bytes) -> tuple[str, str | None]:
    """(MIME type by content, accepted family per R-4.5 or None when not accepted)."""
    try:
        mime = magic.from_buffer(content[:MAGIC_BYTES], mime=True)
    except magic.MagicException:  # libmagic gave up: treat as unknown, i.e. not accepted
        mime = "application/octet-stream"
    if content.startswith(b"PK") and (mime in _ZIP_MIMES or mime.startswith(("application/vnd.openxmlformats",
                                                                              "application/vnd.oasis", "application/vnd.ms-"))):
        mime = _container_mime(content) or "application/zip"
    elif content.startswith(_OLE_SIGNATURE) and mime in _OLE_MIMES:
        mime = _ole_mime(content) or mime
    family = _MIME_FAMILIES.get(mime)
    if family == "txt" and _looks_like_csv(content):
        family = "csv"
    return mime, family


def _container_mime(content: bytes) -> str | None:
    """The MIME type a zip declares inside; None for a plain (or broken) zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                declared = _head(archive, "mimetype", 100).decode("ascii", "replace").strip()
                # Only ODF declares itself this way; anything else claiming e.g. application/pdf is a zip.
                return declared if declared.startswith("application/vnd.oasis.opendocument.") else None
            if "[Content_Types].xml" in names:
                types = _head(archive, "[Content_Types].xml", 200_000)
                for declared in _OVERRIDE.findall(types):
                    if mime := _OOXML_MAIN.get(declared.decode("ascii", "replace")):
                        return mime
                # Some writers leave the main part undeclared; Office still opens them by part name.
                if "word/document.xml" in names:
                    return _OOXML_MAIN["application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"]
                if "xl/workbook.xml" in names:
                    return _OOXML_MAIN["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, ValueError, NotImplementedError):
        return None
    return None


def _head(archive: zipfile.ZipFile, name: str, size: int) -> bytes:
    """The first `size` bytes of a member, inflating no more (a zip bomb's member may inflate to GBs)."""
    with archive.open(name) as member:
        return member.read(size)


def _ole_mime(content: bytes) -> str | None:
    # Legacy Office (OLE2) by its stream names: Word "WordDocument", Excel "Workbook"/"Book".
    head = content[: 4 * MAGIC_BYTES]
    if "WordDocument".encode("utf-16-le") in head:
        return "application/msword"
    if "Workbook".encode("utf-16-le") in head or "Book\x00".encode("utf-16-le") in head:
        return "application/vnd.ms-excel"
    return None


def _looks_like_csv(content: bytes) -> bool:
    """Plain text whose first lines split into the same number (>1) of fields by one delimiter."""
    lines = [line for line in content[:8192].decode("utf-8", "replace").splitlines()[:6] if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (",", ";", "\t"):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


# --- what a PDF must not carry (hostile input, issue 7 item 8) ---------------------------------
# PDF/A (the archival form, R-9.1) forbids scripts and launch actions, and a file hidden inside
# the PDF escapes the format check of R-4.5 (annexes travel as their own attachments). So these
# are refused, each with its reason; an encrypted PDF cannot be read, checked or kept readable.
# Size limits keep every later reader (text, pages, signature block, scan check) bounded: pages,
# and what each compressed stream inflates to (a "flate bomb" is a few MB that inflate to GBs).
_ACTIONS_VI = {"/JavaScript": "mã lệnh JavaScript", "/Launch": "lệnh chạy chương trình (Launch)",
               "/ImportData": "lệnh nạp dữ liệu ngoài (ImportData)"}
MAX_PDF_PAGES = 5_000
MAX_PDF_OBJECTS = 500_000
MAX_STREAM_INFLATED = 256 * 1024**2
MAX_TOTAL_INFLATED = 1024**3
_CHUNK = 1 << 20


def _inflated_size(raw: bytes, cap: int) -> int:
    """How many bytes `raw` (zlib) inflates to, stopping past `cap`, holding 1 MB at a time."""
    inflater = zlib.decompressobj()
    size, data = 0, raw
    while data and size <= cap:
        try:
            size += len(inflater.decompress(data, _CHUNK))
        except zlib.error:  # a damaged stream (e.g. bytes changed after signing): not a bomb; the signature check names it
            break
        data = inflater.unconsumed_tail
    return size


def pdf_problems(content: bytes, *, must_open: bool = False) -> list[str]:
    """The reasons (Vietnamese, naming what was found) to refuse a PDF; [] when none, or when
    it does not open (the caller's own reader then says why; `must_open`: that is a reason too). Reads the object table (qpdf) and
    measures what compressed streams inflate to without keeping the result."""
    import pikepdf

    # Counted in the bytes before qpdf builds its object table (~2 KB of memory per object).
    marked = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", content))
    if marked > MAX_PDF_PAGES:
        return [f"Tệp PDF có khoảng {marked} trang, vượt quá giới hạn {MAX_PDF_PAGES} trang"]
    try:
        document = pikepdf.open(io.BytesIO(content))
    except pikepdf.PasswordError:
        return ["Tệp PDF được mã hóa (đặt mật khẩu), không kiểm tra và lưu trữ được"]
    except Exception as exc:  # noqa: BLE001 - unreadable: the caller's reader names the damage, unless it has none
        return [f"Tệp PDF bị lỗi, không mở được ({exc})"] if must_open else []
    problems: list[str] = []
    with document:
        if document.is_encrypted:
            problems.append("Tệp PDF được mã hóa, không kiểm tra và lưu trữ được")
        # The page tree's own count and the object table's size: read, not walked.
        try:
            pages = int(document.Root.Pages.Count)
            objects = int(document.trailer.get("/Size", 0))
        except (AttributeError, KeyError, TypeError, ValueError):
            pages = objects = 0
        if pages > MAX_PDF_PAGES:
            return [*problems, f"Tệp PDF có {pages} trang, vượt quá giới hạn {MAX_PDF_PAGES} trang"]
        if objects > MAX_PDF_OBJECTS:
            return [*problems, f"Tệp PDF có {objects} đối tượng, vượt quá giới hạn {MAX_PDF_OBJECTS}"]
        found: set[str] = set()
        total = 0
        lengths_wrong = bombed = False
        for obj in document.objects:
            if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
                continue
            kind = obj.get("/S")
            if isinstance(kind, pikepdf.Name) and str(kind) in _ACTIONS_VI:
                found.add(_ACTIONS_VI[str(kind)])
            elif "/JS" in obj:
                found.add(_ACTIONS_VI["/JavaScript"])
            if obj.get("/Type") == pikepdf.Name.EmbeddedFile or (obj.get("/Type") == pikepdf.Name.Filespec and "/EF" in obj):
                found.add("tệp nhúng bên trong (embedded file)")
            if isinstance(obj, pikepdf.Stream) and not bombed:
                raw = obj.read_raw_bytes()
                if obj.get("/Filter") in (pikepdf.Name.FlateDecode, pikepdf.Array([pikepdf.Name.FlateDecode])):
                    size = _inflated_size(raw, MAX_STREAM_INFLATED)
                    total += size
                    bombed = size > MAX_STREAM_INFLATED or total > MAX_TOTAL_INFLATED
        warnings = document.get_warnings()
        lengths_wrong = any("recovered stream length" in w for w in warnings)
        if must_open and any("reconstruct" in w or "damaged" in w for w in warnings):
            problems.append("Tệp PDF bị hỏng (bảng tham chiếu chéo phải dựng lại, có thể bị cắt cụt)")
        if found:
            problems.append("Tệp PDF chứa nội dung không được phép: " + ", ".join(sorted(found)))
        if bombed:
            problems.append(f"Tệp PDF có luồng nén giải nén ra quá {MAX_STREAM_INFLATED // 1024**2} MB "
                            f"(hoặc tổng quá {MAX_TOTAL_INFLATED // 1024**3} GB): nghi là bom nén")
        if lengths_wrong:
            problems.append("Tệp PDF bị hỏng: độ dài luồng dữ liệu (/Length) khai báo sai")
    return problems
