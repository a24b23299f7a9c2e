"""The real format of a file, from its content (R-4.5), with libmagic; OOXML and ODF
containers are told apart by looking inside the zip, as libmagic sometimes sees only "zip"."""

from __future__ import annotations

import io
import zipfile

import magic

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


def detect(content: bytes) -> tuple[str, str | None]:
    """(MIME type by content, accepted family or None)."""
    mime = magic.from_buffer(content[:65536] if len(content) > 65536 else content, mime=True)
    if mime in _ZIP_MIMES or mime.startswith("application/vnd.openxmlformats") or mime.startswith("application/vnd.oasis"):
        inner = _container_mime(content)
        if inner:
            mime = inner
    if mime == "application/CDFV2" or mime == "application/x-ole-storage":
        mime = _ole_mime(content) or mime
    family = _MIME_FAMILIES.get(mime)
    if family == "txt" and _looks_like_csv(content):
        family = "csv"
    return mime, family


def _container_mime(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                return archive.read("mimetype").decode("ascii", "replace").strip()
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                if any(n.startswith("xl/") for n in names):
                    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def _ole_mime(content: bytes) -> str | None:
    # Legacy Office (OLE2): Word streams name "WordDocument", Excel "Workbook"/"Book".
    head = content[:1 << 20]
    if "WordDocument".encode("utf-16-le") in head:
        return "application/msword"
    if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
        return "application/vnd.ms-excel"
    return None


def _looks_like_csv(content: bytes) -> bool:
    lines = content[:4096].decode("utf-8", "replace").splitlines()[:5]
    return len(lines) >= 2 and all(line.count(",") == lines[0].count(",") > 0 for line in lines if line)
