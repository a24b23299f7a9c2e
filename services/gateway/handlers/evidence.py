"""The evidence log at work (issue 7 item 4; rules in `domain/evidence.py`): entries are
chained after commit by the audit log's chainer (compare-and-set on `evidence_head`, safe
with several gateway replicas), then sealed in batches with an RFC 3161 timestamp token. A TSA
that does not answer leaves the batch unsealed — the exchange goes on — and it is sealed on a
later round; the count and age of what waits are metrics and status facts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.adapters import evidence_store as store
from services.gateway.adapters import tsa
from services.gateway.domain.evidence import EvidenceReport, Problem, next_batch, seal_due, seal_problems
from shared.audit_chain import AuditChainer, verify_chain
from shared.clock import utcnow
from shared.config import Settings
from shared.db import Store
from shared.logging import get_logger

log = get_logger(__name__)

UNSEALED_ENTRIES = Gauge("vanthu_evidence_unsealed_entries", "Evidence log entries not yet under a timestamp seal")
OLDEST_UNSEALED_SECONDS = Gauge("vanthu_evidence_oldest_unsealed_seconds", "Age of the oldest evidence entry not yet sealed")
SEALS = Counter("vanthu_evidence_seals_total", "Evidence seal attempts", ["outcome"])


def chainer(db_store: Store) -> AuditChainer:
    return AuditChainer(db_store, **store.chain_options())


def tsa_roots(settings: Settings) -> list[Path]:
    return list(settings.tsa_trust_roots or settings.trust_roots)


async def seal_once(db: AsyncDatabase, settings: Settings, *, force: bool = False) -> int:
    """Seal the next batch if one is due; returns how many entries it sealed (0: nothing due,
    or another replica sealed that batch first). Raises TsaUnavailable: the batch waits."""
    if not settings.tsa_url:
        return 0
    last = await store.last_seal(db)
    sealed_up_to = int(last["seq_to"]) if last else 0
    head = await store.head_seq(db)
    batch = next_batch(sealed_up_to, head, settings.evidence_seal_entries)
    if batch is None:
        return 0
    oldest = await store.oldest_chained_unsealed(db, sealed_up_to)
    if not force and not seal_due(chained_unsealed=head - sealed_up_to, oldest_unsealed_at=oldest, now=utcnow(),
                                  every_entries=settings.evidence_seal_entries, every_seconds=settings.evidence_seal_seconds):
        return 0
    start, end = batch
    last_entry = await store.entry_at(db, end)
    if last_entry is None or not last_entry.get("hash"):
        return 0  # the chainer's commit is not visible yet
    try:
        token = await tsa.timestamp(settings.tsa_url, bytes.fromhex(last_entry["hash"]), timeout=settings.tsa_timeout_seconds)
    except tsa.TsaUnavailable as exc:
        SEALS.labels(outcome="tsa_unavailable").inc()
        log.warning("evidence batch left unsealed: time-stamping server unavailable", seq_from=start, seq_to=end, error=str(exc))
        raise
    seal = {"_id": start, "seq_from": start, "seq_to": end, "count": end - start + 1, "head_hash": last_entry["hash"],
            "sealed_at": utcnow(), "tsa": {"url": settings.tsa_url, "token": token.der, "gen_time": token.gen_time,
                                          "serial": str(token.serial), "subject": token.tsa_subject}}
    try:
        await store.insert_seal(db, seal)
    except DuplicateKeyError:
        SEALS.labels(outcome="raced").inc()
        return 0  # another replica sealed from the same seq first
    SEALS.labels(outcome="sealed").inc()
    log.info("evidence batch sealed", seq_from=start, seq_to=end, tsa_time=token.gen_time.isoformat())
    return end - start + 1


async def seal_all(db: AsyncDatabase, settings: Settings) -> int:
    total = 0
    while (count := await seal_once(db, settings, force=True)) > 0:
        total += count
    return total


async def refresh_gauges(db: AsyncDatabase) -> dict[str, Any]:
    facts = await store.facts(db)
    UNSEALED_ENTRIES.set(facts["unsealed"])
    oldest = facts["oldest_unsealed_at"]
    OLDEST_UNSEALED_SECONDS.set((utcnow() - oldest).total_seconds() if oldest else 0)
    return facts


async def run_sealer(db: AsyncDatabase, settings: Settings, *, interval: float = 1.0) -> None:
    """Background loop: seal what is due; back off while the TSA is away, never give up."""
    backoff = interval
    while True:
        try:
            while await seal_once(db, settings) >= settings.evidence_seal_entries:
                pass  # a backlog: the next full batch at once
            backoff = interval
        except tsa.TsaUnavailable:
            backoff = min(backoff * 2, 30.0)
        except Exception:
            log.exception("evidence sealing failed")
            backoff = min(backoff * 2, 30.0)
        try:
            await refresh_gauges(db)
        except Exception:  # the store away: the next round says it
            log.warning("evidence gauges not refreshed", exc_info=True)
        await asyncio.sleep(backoff)


async def status_facts(db: AsyncDatabase, settings: Settings) -> dict[str, Any]:
    facts = await refresh_gauges(db)
    return {
        "evidence": {key: facts[key] for key in ("entries", "sealed_up_to", "unsealed", "last_seal_at")},
        "max_package_bytes": settings.max_package_bytes,
    }


async def verify(db: AsyncDatabase, settings: Settings) -> EvidenceReport:
    """Every entry's hash and link, every seal (range, sealed hash, timestamp token against the
    TSA roots), every entry's raw bytes against its SHA-256 and size. Changes nothing."""
    report = EvidenceReport()
    seals = await store.all_seals(db)
    seal_ends = {s.get("seq_to") for s in seals}
    hash_of: dict[int, str] = {}
    entries: list[tuple[int, str, int | None, dict | None]] = []

    def note(entry: dict) -> None:
        seq = entry.get("seq")
        if seq in seal_ends:
            hash_of[seq] = entry.get("hash")
        entries.append((seq, entry.get("sha256"), entry.get("size"), entry.get("raw")))

    chain = await verify_chain(db, on_entry=note, **store.chain_options())
    report.entries = chain.sealed + chain.unsealed
    if not chain.ok:
        report.problems.append(Problem(chain.broken_seq, f"{chain.problem}: {chain.reason}"))
    for seq, sha256, size, raw in entries:
        if raw is None:
            continue  # never taken (refused for its size): nothing kept to check
        kept = await store.raw_digest(db, raw.get("sha256", ""), raw.get("bucket", store.BUCKET))
        if kept is None:
            report.problems.append(Problem(seq, f"raw package {raw.get('sha256')} missing from the store"))
        elif kept[0] != sha256 or raw.get("sha256") != sha256:
            report.problems.append(Problem(seq, "raw package bytes no longer hash to the recorded SHA-256"))
        elif kept[1] != size:
            report.problems.append(Problem(seq, f"raw package size {kept[1]} differs from the recorded {size}"))
    problems, holds_up_to = seal_problems(seals, hash_of)
    report.problems += problems
    roots = tsa.load_roots(tsa_roots(settings))
    for seal in seals:
        if seal["seq_to"] > holds_up_to:
            break
        token = (seal.get("tsa") or {}).get("token")
        if not token:
            report.problems.append(Problem(seal["seq_to"], "seal without a timestamp token"))
            holds_up_to = seal["seq_from"] - 1
            break
        if (what := await tsa.check_token(bytes(token), bytes.fromhex(seal["head_hash"]), roots)) is not None:
            report.problems.append(Problem(seal["seq_to"], f"{what} (seal {seal['seq_from']}..{seal['seq_to']})"))
            holds_up_to = seal["seq_from"] - 1
            break
    report.seals = len(seals)
    report.sealed_up_to = holds_up_to
    report.unsealed = report.entries - holds_up_to
    return report


async def evidence_facts(ctx) -> dict[str, Any]:
    """The status-facts hook (ServiceDefinition.status): the log's state and the size limit."""
    return await status_facts(ctx.store.db, ctx.settings)


async def evidence_chainer(ctx) -> None:
    """Background task: give evidence entries their seq and hash after commit (any replica)."""
    await chainer(ctx.store).run()


async def evidence_sealer(ctx) -> None:
    await run_sealer(ctx.store.db, ctx.settings)
