"""Facts the archive reads from a PDF: its page count (R-10.6) and its text for search. The
text comes from Poppler's pdftotext (installed with the system), in a subprocess with a time
limit, so a hostile PDF cannot stall the service."""

from __future__ import annotations

import asyncio
import io
import shutil
import unicodedata

import pikepdf

TEXT_TIMEOUT_SECONDS = 30
MAX_TEXT_CHARS = 200_000  # enough for the search index; the PDF itself is the record


def page_count(pdf: bytes) -> int:
    try:
        with pikepdf.open(io.BytesIO(pdf)) as document:
            return len(document.pages)
    except Exception:  # noqa: BLE001 - an unreadable PDF has no countable pages; the record says 0
        return 0


async def pdf_text(pdf: bytes) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        return ""
    process = await asyncio.create_subprocess_exec(
        tool, "-enc", "UTF-8", "-q", "-", "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(process.communicate(pdf), TEXT_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        return ""
    return unicodedata.normalize("NFC", out.decode("utf-8", errors="replace"))[:MAX_TEXT_CHARS]
