"""The evidence log of the axis exchange (R-4.1, R-13; issue 7 item 4), pure rules.

One entry per package sent to or received from the axis, with the facts that prove the
exchange (direction, axis id, sender, recipients, DocumentId, time, SHA-256 and size of the raw
bytes exactly as exchanged — they carry the documents' signatures — and where those bytes are
kept). Entries are chained like the audit log (`shared/audit_chain.py`: seq, prev_hash, hash)
and sealed in batches: a seal holds the hash of its batch's last entry (which, through the
chain, commits to every entry before it) and an RFC 3161 timestamp token whose message imprint
is that hash. Seals follow one another with no gap and no overlap (`seq_from` = the previous
seal's `seq_to` + 1).

The package size limit is here too: a package over `max_package_bytes` is refused unread.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["sent", "received"]

# Room for the axis's JSON around the base64 of a package (getEdoc answers {"data": "<b64>", …}).
JSON_OVERHEAD = 4096
# What is read of an oversized package: its edXML header (sender, DocumentId) comes first.
HEADER_PREFIX_BYTES = 64 * 1024


def entry(
    *,
    direction: Direction,
    kind: str,
    axis_doc_id: str | None,
    sender: str | None,
    recipients: list[str],
    document_id: str | None,
    status_code: str | None,
    sha256: str | None,
    size: int | None,
    raw: dict[str, Any] | None,
    ref: dict[str, str],
    refused: str | None = None,
) -> dict[str, Any]:
    """An unchained evidence entry (the chainer gives `seq`, `prev_hash`, `hash`; `at` is set
    when it is written). `raw` says where the bytes are (`{"bucket", "sha256"}`), None when
    they were never taken (a package refused for its size)."""
    return {
        "direction": direction,
        "kind": kind,
        "axis_doc_id": axis_doc_id,
        "sender": sender,
        "recipients": list(recipients),
        "document_id": document_id,
        "status_code": status_code,
        "sha256": sha256,
        "size": size,
        "raw": raw,
        "ref": ref,
        "refused": refused,
    }


def seal_due(*, chained_unsealed: int, oldest_unsealed_at: dt.datetime | None, now: dt.datetime,
             every_entries: int, every_seconds: float) -> bool:
    """Seal when a batch is full or its oldest entry has waited long enough."""
    if chained_unsealed <= 0:
        return False
    if chained_unsealed >= every_entries:
        return True
    return oldest_unsealed_at is not None and (now - oldest_unsealed_at).total_seconds() >= every_seconds


def next_batch(sealed_up_to: int, head_seq: int, every_entries: int) -> tuple[int, int] | None:
    """The seqs the next seal covers: from the first unsealed entry, at most a batch."""
    if head_seq <= sealed_up_to:
        return None
    return sealed_up_to + 1, min(head_seq, sealed_up_to + max(every_entries, 1))


# --- size limit -------------------------------------------------------------------------


def megabytes(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:g}" if value >= 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def too_large_reason(limit: int) -> str:
    """The refusal reason the sender reads (status 02)."""
    return f"gói tin vượt quá giới hạn {megabytes(limit)} MB, không được tiếp nhận"


def encoded_limit(limit: int) -> int:
    """Largest getEdoc answer that can hold a package of `limit` bytes (base64 + JSON)."""
    return 4 * math.ceil(limit / 3) + JSON_OVERHEAD


# --- verification -----------------------------------------------------------------------


@dataclass
class Problem:
    seq: int | None
    what: str

    def text(self) -> str:
        return f"seq {self.seq}: {self.what}" if self.seq is not None else self.what


@dataclass
class EvidenceReport:
    entries: int = 0
    unsealed: int = 0
    sealed_up_to: int = 0
    seals: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The first broken link: the lowest seq (problems without one come last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))

    def status(self) -> str:
        return "ok" if self.ok else f"BROKEN at {self.first.text()}"

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "unsealed": self.unsealed, "sealed_up_to": self.sealed_up_to,
                "seals": self.seals, "first_broken": None if self.ok else {"seq": self.first.seq, "what": self.first.what},
                "problems": [{"seq": p.seq, "what": p.what} for p in self.problems]}


def seal_problems(seals: list[dict[str, Any]], hash_of: dict[int, str]) -> tuple[list[Problem], int]:
    """Seals in order of `seq_from`: contiguous, and each sealing the hash its last entry has.
    Returns the problems and the seq up to which the seals hold (tokens are checked apart)."""
    problems: list[Problem] = []
    expected = 1
    for seal in sorted(seals, key=lambda s: s.get("seq_from", 0)):
        start, end = seal.get("seq_from"), seal.get("seq_to")
        if start != expected:
            what = (f"seal gap: seqs {expected}..{start - 1} under no seal" if isinstance(start, int) and start > expected
                    else f"seals overlap: a seal starts at seq {start}, expected {expected}")
            problems.append(Problem(expected, what))
            return problems, expected - 1
        if not isinstance(end, int) or end < start:
            problems.append(Problem(start, f"seal {seal.get('_id')} covers no valid range ({start}..{end})"))
            return problems, expected - 1
        if hash_of.get(end) != seal.get("head_hash"):
            problems.append(Problem(end, f"sealed hash differs from the entry's hash (seal {start}..{end})"))
            return problems, expected - 1
        expected = end + 1
    return problems, expected - 1
