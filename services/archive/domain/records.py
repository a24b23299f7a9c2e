"""Archive records (pure): an incoming or outgoing document kept with its files and their
SHA-256 (R-4.1, R-7.3). The record id is stable per source document, so a redelivered
message finds the record it already made instead of making a second one."""

from __future__ import annotations

from typing import Literal

Source = Literal["incoming", "outgoing"]


def record_id(source: Source, document_key: str) -> str:
    return f"{source}:{document_key}"
