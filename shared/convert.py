"""DOCX/ODT drafts to PDF with LibreOffice headless (issue 4 point 1). Each conversion gets its
own LibreOffice profile directory, so conversions can run side by side, and a time limit."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

TIMEOUT_SECONDS = 120


class ConversionFailed(RuntimeError):
    pass


async def to_pdf(data: bytes, *, suffix: str) -> bytes:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise ConversionFailed("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="vanthu-convert-") as work:
        folder = Path(work)
        source = folder / f"du-thao.{suffix}"
        source.write_bytes(data)
        process = await asyncio.create_subprocess_exec(
            soffice, f"-env:UserInstallation=file://{folder / 'profile'}", "--headless", "--norestore",
            "--convert-to", "pdf", "--outdir", str(folder / "out"), str(source),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
        except TimeoutError as exc:
            process.kill()
            raise ConversionFailed(f"LibreOffice did not finish in {TIMEOUT_SECONDS} s") from exc
        result = folder / "out" / "du-thao.pdf"
        if process.returncode != 0 or not result.exists():
            raise ConversionFailed(f"LibreOffice could not convert the file: {stderr.decode(errors='replace')[-300:]}")
        return result.read_bytes()
