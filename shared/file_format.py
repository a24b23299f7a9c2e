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
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                # Only ODF declares itself this way; anything else claiming e.g. application/pdf is a zip.
                return declared if declared.startswith("application/vnd.oasis.opendocument.") else None
            if "[Content_Types].xml" in names:
                types = archive.read("[Content_Types].xml")[:200_000]
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
