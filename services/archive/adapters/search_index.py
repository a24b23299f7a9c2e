"""The archive's search index: SQLite FTS5, derived from MongoDB and rebuildable (issue 5 item 6).

MongoDB (`records`, `record_texts`) stays the store of record; the store has no text indexes, so
each archive replica keeps this file of its own at `<var_dir>/archive-search/<database>.sqlite3`
and keeps it current by following a change stream on the two collections. The stream's resume
token is written in the same SQLite transaction as the changes it covers, so a restart continues
where it stopped; on first start, after a schema change, or when the store no longer knows the
token, the index is rebuilt from a full scan (the stream is opened before the scan and followed
from that point after it, so nothing written during the scan is missed; applying a change twice
is harmless).

Tables: one FTS5 table per year partition, `docs_<year>` and `docs_none` (folded subject, code,
meta, body and the filter tokens `tags`, ranked by bm25 with the subject and code weighted
highest; listed in `parts`), `records` (one row per indexed record, whichever its partition: filter
columns for listings and the fields a result shows), `state` (resume token, schema version).
A query with a year reads one partition; without, each partition newest first, and the pages
are merged by score (each partition's bm25 uses its own statistics, close between years of the
same archive). A query is read in one transaction, so it sees one state of every partition.
SQLite work is blocking: callers in the event loop go through `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from services.archive.domain import search as rules
from shared.logging import get_logger

log = get_logger(__name__)

RECORDS = "records"
TEXTS = "record_texts"
SCHEMA_VERSION = "3"
# Codes for a token the store cannot resume from: history lost, fatal, unparsable, invalid.
TOKEN_GONE_CODES = frozenset({286, 280, 9, 260})
SCAN_BATCH = 2000
EVENT_BATCH = 500
IDLE_TOKEN_SECONDS = 30.0
RANK_WINDOW = 3000
COUNT_LIMIT = 10_000
_WEIGHTS = ", ".join(str(w) for w in rules.COLUMN_WEIGHTS)

_SCHEMA = """
CREATE TABLE parts (key INTEGER PRIMARY KEY);
CREATE TABLE records (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, year INTEGER, type_key TEXT, sender_key TEXT,
    state TEXT, source TEXT, restricted INTEGER NOT NULL, sort_date TEXT NOT NULL, display TEXT NOT NULL);
"""
# Made after a rebuild's bulk load (faster than keeping them during it).
_RECORD_INDEXES = ("CREATE INDEX IF NOT EXISTS records_by_date ON records(sort_date)",
                   "CREATE INDEX IF NOT EXISTS records_by_year ON records(year, sort_date)")


def table_of(partition: int | None) -> str:
    """The FTS5 table of a partition (an int year or None: safe to put in SQL)."""
    return "docs_none" if partition is None else f"docs_{int(partition)}"


def _part_key(partition: int | None) -> int:
    return 0 if partition is None else partition


def _part_of_key(key: int) -> int | None:
    return None if key == 0 else key


def index_path(var_dir: Path, database: str) -> Path:
    return Path(var_dir) / "archive-search" / f"{database}.sqlite3"


@dataclass
class SearchResult:
    total: int
    results: list[dict]
    total_exact: bool = True


class SearchIndex:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._scan_lock = threading.Lock()
        self._rebuilding = False
        self.started_with: str | None = None  # "resume" or "rebuild", for operators and tests
        self.applied = 0  # changes applied since this process opened the index
        self._parts: set[int | None] = set()  # the writer's view of `parts`
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                if self._get("schema") != SCHEMA_VERSION:  # first start or an older layout: empty, to be rebuilt
                    self._create_tables()
                    self._finish_tables()
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._load_parts()

    # --- connections ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # the index is derived: losing the last commits costs a replay
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA mmap_size=1073741824")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        self._writer.close()

    def _get(self, key: str) -> str | None:
        row = self._writer.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: str) -> None:
        self._writer.execute("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (key, value))

    def _create_tables(self) -> None:
        # Called inside a transaction: readers keep the old tables until it commits.
        w = self._writer
        fts = w.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'docs%' "
                        "AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall()  # every partition (and schema 2's `docs`)
        for (name,) in fts:
            w.execute(f'DROP TABLE "{name}"')
        w.execute("DROP TABLE IF EXISTS parts")
        w.execute("DROP TABLE IF EXISTS records")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            w.execute(statement)
        w.execute("DELETE FROM state WHERE key = 'resume_token'")
        self._set("schema", SCHEMA_VERSION)
        self._parts = set()

    def _finish_tables(self) -> None:
        for statement in _RECORD_INDEXES:
            self._writer.execute(statement)
        for partition in self._parts:  # one segment each: fewer lookups per term
            table = table_of(partition)
            self._writer.execute(f"INSERT INTO {table}({table}) VALUES('optimize')")

    def _load_parts(self) -> None:
        """The writer's view of the partitions, again from the file (after a rollback)."""
        try:
            self._parts = {_part_of_key(k) for (k,) in self._writer.execute("SELECT key FROM parts")}
        except sqlite3.OperationalError:
            self._parts = set()

    def _table(self, partition: int | None) -> str:
        """The FTS5 table of a partition, made when the first record of that year comes."""
        table = table_of(partition)
        if partition not in self._parts:
            self._writer.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(subject, code, meta, body, "
                                 "tags, tokenize='unicode61 remove_diacritics 0')")
            self._writer.execute(f"INSERT INTO {table}({table}, rank) VALUES('rank', 'bm25({_WEIGHTS})')")
            self._writer.execute("INSERT OR IGNORE INTO parts(key) VALUES (?)", (_part_key(partition),))
            self._parts.add(partition)
        return table

    def partitions(self) -> list[int | None]:
        """The partitions that exist (years, and None for records without one)."""
        return _read_parts(self._reader())

    def resume_token(self) -> dict | None:
        with self._write_lock:
            raw = self._get("resume_token")
        return json.loads(raw) if raw else None

    def count(self) -> int:
        return self._reader().execute("SELECT count(*) FROM records").fetchone()[0]

    # --- writing --------------------------------------------------------------------------

    def _upsert(self, record: dict, body: str | None) -> None:
        row = rules.index_row(record)
        w = self._writer
        found = w.execute("SELECT rid, year FROM records WHERE id = ?", (row.id,)).fetchone()
        values = _record_values(row)
        if found:
            rid, old = found[0], table_of(rules.partition_of(found[1]))  # its year may have changed
            if body is None:  # no text given: keep what the index has
                body = (w.execute(f"SELECT body FROM {old} WHERE rowid = ?", (rid,)).fetchone() or ("",))[0]
            w.execute("UPDATE records SET year=?, type_key=?, sender_key=?, state=?, source=?, restricted=?, "
                      "sort_date=?, display=? WHERE rid=?", (*values, rid))
            w.execute(f"DELETE FROM {old} WHERE rowid = ?", (rid,))
        else:
            rid = w.execute("INSERT INTO records(id, year, type_key, sender_key, state, source, restricted, sort_date, "
                            "display) VALUES (?,?,?,?,?,?,?,?,?)", (row.id, *values)).lastrowid
        w.execute(f"INSERT INTO {self._table(row.partition)}(rowid, subject, code, meta, body, tags) VALUES (?,?,?,?,?,?)",
                  (rid, row.subject, row.code, row.meta, body or "", row.tags))

    def _remove(self, rid_text: str) -> None:
        found = self._writer.execute("SELECT rid, year FROM records WHERE id = ?", (rid_text,)).fetchone()
        if found:
            self._writer.execute(f"DELETE FROM {table_of(rules.partition_of(found[1]))} WHERE rowid = ?", (found[0],))
            self._writer.execute("DELETE FROM records WHERE rid = ?", (found[0],))

    def _set_body(self, rid_text: str, text: str | None) -> None:
        found = self._writer.execute("SELECT rid, year FROM records WHERE id = ?", (rid_text,)).fetchone()
        if found:  # a text whose record is not indexed (yet) is picked up with the record
            self._writer.execute(f"UPDATE {table_of(rules.partition_of(found[1]))} SET body = ? WHERE rowid = ?",
                                 (rules.fold_text(text), found[0]))

    def apply(self, changes: Iterable[tuple[str, str, dict | None, str | None]], token: dict | None) -> int:
        """Applies changes — (collection, id, document or None when deleted, PDF text or None) —
        and records the token they bring the index to, in one transaction."""
        n = 0
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                for collection, rid, doc, text in changes:
                    n += 1
                    if collection == TEXTS:
                        self._set_body(rid, doc.get("text") if doc else None)
                    elif doc is None or not rules.is_searchable(doc):
                        self._remove(rid)
                    else:
                        self._upsert(doc, rules.fold_text(text) if text is not None else None)
                if token is not None:
                    self._set("resume_token", json.dumps(token))
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                self._load_parts()  # partitions made in the rolled-back transaction are gone
                raise
        self.applied += n
        return n

    # --- rebuilding and following ---------------------------------------------------------

    async def rebuild(self, db: AsyncDatabase) -> int:
        """Everything again from a full scan of `records` (texts fetched per batch). The old
        index answers queries until the new one commits. Returns the records indexed."""
        async with await db.watch(_PIPELINE, full_document="updateLookup") as stream:
            token = stream.resume_token
            if token is None:  # the first answer carries the position; an event here is replayed later
                await stream.try_next()
                token = stream.resume_token
        started = time.perf_counter()
        n = 0
        try:
            await _in_thread(self._begin_rebuild)
            batch: list[dict] = []
            async for record in db[RECORDS].find({}, sort=[("_id", 1)], batch_size=SCAN_BATCH):
                batch.append(record)
                if len(batch) >= SCAN_BATCH:
                    n += await self._scan_batch(db, batch)
                    batch = []
            if batch:
                n += await self._scan_batch(db, batch)
            await _in_thread(self._end_rebuild, token)
        except BaseException:
            await _in_thread(self._abort_rebuild)
            raise
        log.info("search index rebuilt", records=n, seconds=round(time.perf_counter() - started, 1), path=str(self.path))
        return n

    def _begin_rebuild(self) -> None:
        self._write_lock.acquire()  # held until the rebuild commits or aborts
        self._writer.execute("BEGIN IMMEDIATE")
        self._create_tables()
        self._next_rid = 0
        self._rebuilding = True

    def _end_rebuild(self, token: dict | None) -> None:
        with self._scan_lock:
            self._finish_tables()
            if token is not None:
                self._set("resume_token", json.dumps(token))
            self._set("rebuilds", str(int(self._get("rebuilds") or 0) + 1))
            self._writer.execute("COMMIT")
            self._rebuilding = False
            self._write_lock.release()

    def _abort_rebuild(self) -> None:
        with self._scan_lock:
            if not self._rebuilding:
                return
            self._rebuilding = False
            try:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                self._load_parts()
            finally:
                self._write_lock.release()

    async def _scan_batch(self, db: AsyncDatabase, batch: list[dict]) -> int:
        ids = [r["_id"] for r in batch]
        texts = {t["_id"]: t.get("text") async for t in db[TEXTS].find({"_id": {"$in": ids}})}

        def write() -> int:  # the write lock is already held by the rebuild
            n = 0
            with self._scan_lock:
                if not self._rebuilding:  # aborted (cancelled) while this batch waited for a thread
                    return 0
                # Fresh tables and records scanned in _id order: plain bulk inserts, no look-ups.
                records, docs = [], {}
                for record in batch:
                    if rules.is_searchable(record):
                        row = rules.index_row(record)
                        self._next_rid += 1
                        records.append((self._next_rid, row.id, *_record_values(row)))
                        docs.setdefault(row.partition, []).append(
                            (self._next_rid, row.subject, row.code, row.meta, rules.fold_text(texts.get(row.id)), row.tags))
                self._writer.executemany("INSERT INTO records(rid, id, year, type_key, sender_key, state, source, "
                                         "restricted, sort_date, display) VALUES (?,?,?,?,?,?,?,?,?,?)", records)
                for partition, rows in docs.items():
                    self._writer.executemany(f"INSERT INTO {self._table(partition)}(rowid, subject, code, meta, body, "
                                             "tags) VALUES (?,?,?,?,?,?)", rows)
                n = len(records)
            return n

        return await _in_thread(write)

    async def _apply_events(self, db: AsyncDatabase, events: list[dict], token: dict | None) -> None:
        record_ids = [e["documentKey"]["_id"] for e in events if e["ns"]["coll"] == RECORDS and e.get("fullDocument")]
        texts = {t["_id"]: t.get("text") async for t in db[TEXTS].find({"_id": {"$in": record_ids}})} if record_ids else {}
        changes = []
        for e in events:
            coll, rid = e["ns"]["coll"], e["documentKey"]["_id"]
            # updateLookup gives the document as it is now; None means it is gone by now.
            doc = e.get("fullDocument") if e["operationType"] != "delete" else None
            changes.append((coll, rid, doc, texts.get(rid, "") if coll == RECORDS and doc else None))
        await _in_thread(self.apply, changes, token)

    async def start(self, db: AsyncDatabase) -> None:
        """Resumes from the stored token, or rebuilds when there is none."""
        if self.resume_token() is None:
            await self.rebuild(db)
            self.started_with = "rebuild"
        else:
            self.started_with = "resume"

    async def follow(self, db: AsyncDatabase, *, max_await_ms: int = 500) -> None:
        """Keeps the index current for as long as it runs (cancel it to stop)."""
        await self.start(db)
        delay = 0.5
        while True:
            token = self.resume_token()
            try:
                async with await db.watch(_PIPELINE, full_document="updateLookup", resume_after=token,
                                          max_await_time_ms=max_await_ms, batch_size=EVENT_BATCH) as stream:
                    delay, kept_at = 0.5, time.monotonic()
                    while True:
                        events = []
                        while len(events) < EVENT_BATCH:
                            event = await stream.try_next()
                            if event is None:
                                break
                            if event["operationType"] in ("invalidate", "drop", "dropDatabase", "rename"):
                                raise _Invalidated(event["operationType"])
                            if event["operationType"] in ("insert", "update", "replace", "delete"):
                                events.append(event)
                        # An idle stream's token moves too (other collections' writes); it is kept
                        # now and then so a restart does not replay from far back.
                        idle_due = time.monotonic() - kept_at > IDLE_TOKEN_SECONDS and stream.resume_token != token
                        if events or idle_due:
                            token = stream.resume_token
                            await self._apply_events(db, events, token)
                            kept_at = time.monotonic()
            except _Invalidated as exc:
                log.warning("search index: change stream invalidated, rebuilding", reason=str(exc))
                await self.rebuild(db)
            except OperationFailure as exc:
                if exc.code in TOKEN_GONE_CODES or "resume" in str(exc).lower():
                    log.warning("search index: resume token not usable, rebuilding", error=str(exc), code=exc.code)
                    await self.rebuild(db)
                else:
                    log.warning("search index: change stream failed, retrying", error=str(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30)
            except PyMongoError as exc:
                log.warning("search index: store unreachable, retrying", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    # --- querying -------------------------------------------------------------------------

    def search(self, query: rules.SearchQuery) -> SearchResult:
        """Ranked full-text results, or with no words the filtered listing, newest first."""
        conn = self._reader()
        conn.execute("BEGIN")  # one snapshot of every partition for the whole answer
        try:
            return self._ranked(conn, query) if query.has_text else self._listing(conn, query)
        finally:
            conn.execute("ROLLBACK")

    def _ranked(self, conn: sqlite3.Connection, query: rules.SearchQuery) -> SearchResult:
        # bm25 costs about a microsecond and a half per matching row, so a query matching a large part
        # of the archive ranks only its RANK_WINDOW most recent matches: partitions newest year first,
        # in each the most recently indexed (FTS5 walks rowids newest first and stops); below that
        # the ranking is exact. A partition whose matches all fit in the window is counted by it;
        # others are counted up to COUNT_LIMIT in all, beyond which the total is an estimate.
        wanted = query.offset + query.limit
        budget, total, page = RANK_WINDOW, 0, []
        for partition in rules.partitions_for(query, _read_parts(conn)):
            table = table_of(partition)
            expression = rules.match_expression(query, partition=partition)
            counted = None
            if budget > 0:
                rows = conn.execute(
                    f"SELECT rowid, score, n FROM (SELECT rowid, score, count(*) OVER () AS n FROM "
                    f"(SELECT rowid, bm25({table}, {_WEIGHTS}) AS score FROM {table} WHERE {table} MATCH ? "
                    "ORDER BY rowid DESC LIMIT ?)) ORDER BY score, rowid DESC LIMIT ?",
                    (expression, budget, wanted)).fetchall()
                in_window = rows[0][2] if rows else 0
                page += [(score, rid, partition) for rid, score, _ in rows]
                if in_window < budget:
                    counted = in_window  # every match of this partition was ranked
                budget -= in_window
            if counted is None:
                if total >= COUNT_LIMIT:
                    continue
                counted = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT ?)",
                                       (expression, COUNT_LIMIT - total)).fetchone()[0]
            total += counted
        page.sort(key=lambda r: (r[0], -r[1]))  # bm25: lower is better; ties newest first
        page = page[query.offset:wanted]
        return SearchResult(total, self._results(conn, [(rid, score, part) for score, rid, part in page],
                                                 rules.snippet_expression(query)), total < COUNT_LIMIT)

    def _results(self, conn: sqlite3.Connection, rows: list[tuple[int, float | None, int | None]],
                 snippet: str | None) -> list[dict]:
        """Display fields of (rid, score, partition) rows, with a snippet when there are words."""
        if not rows:
            return []
        rids = [r[0] for r in rows]
        marks = ",".join("?" * len(rids))
        display = dict(conn.execute(f"SELECT rid, display FROM records WHERE rid IN ({marks})", rids).fetchall())
        results = []
        for rid, score, partition in rows:
            item = json.loads(display[rid])
            item["score"] = float(f"{-score:.6g}") if score is not None else None  # bm25: lower is better
            if snippet:
                table = table_of(partition)
                found = conn.execute(f"SELECT snippet({table}, -1, '[', ']', '…', 16) FROM {table} WHERE {table} MATCH ? "
                                     "AND rowid = ?", (snippet, rid)).fetchone()
                item["snippet"] = found[0] if found else None
            results.append(item)
        return results

    def _listing(self, conn: sqlite3.Connection, query: rules.SearchQuery) -> SearchResult:
        f = query.filters
        where, args = [], []
        for column, value in (("year", f.year), ("state", f.state and f.state), ("source", f.source)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(rules.fold_text(value) if isinstance(value, str) else value)
        if f.type_name:
            where.append("type_key = ?")
            args.append(rules.type_tag(f.type_name)[1:])
        if f.sender:
            where.append("sender_key = ?")
            args.append(rules.sender_tag(f.sender)[1:])
        partitions = rules.partitions_for(query, _read_parts(conn))
        if f.dossier:
            where.append(f"rid IN ({_tagged(partitions)})")
            args += [f'tags : "{rules.dossier_tag(f.dossier)}"'] * len(partitions)
        if query.visible_to is not None:
            where.append(f"(restricted = 0 OR rid IN ({_tagged(partitions)}))")
            args += [f'tags : "{rules.user_tag(query.visible_to)}"'] * len(partitions)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = conn.execute(f"SELECT count(*) FROM records {clause}", args).fetchone()[0]
        rows = conn.execute(f"SELECT rid, NULL, NULL FROM records {clause} ORDER BY sort_date DESC, rid DESC "
                            "LIMIT ? OFFSET ?", [*args, query.limit, query.offset]).fetchall()
        return SearchResult(total, self._results(conn, rows, None), True)


def _read_parts(conn: sqlite3.Connection) -> list[int | None]:
    return [_part_of_key(k) for (k,) in conn.execute("SELECT key FROM parts")]


def _tagged(partitions: list[int | None]) -> str:
    """A subquery of the rowids whose tags match (one argument per partition)."""
    if not partitions:
        return "SELECT NULL WHERE 0"
    return " UNION ALL ".join(f"SELECT rowid FROM {table_of(p)} WHERE {table_of(p)} MATCH ?" for p in partitions)


def _record_values(row: rules.IndexRow) -> tuple:
    return (row.year, row.type_key, row.sender_key, row.state, row.source, int(row.restricted), row.sort_date,
            json.dumps(row.display, ensure_ascii=False, default=str))


class _Invalidated(Exception):
    pass


async def _in_thread(fn, *args):
    """Runs blocking SQLite work in a thread; when the caller is cancelled, the work still
    finishes before the cancellation goes on, so nothing else touches the connection meanwhile."""
    future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


_PIPELINE: list[dict[str, Any]] = [{"$match": {"ns.coll": {"$in": [RECORDS, TEXTS]}}}]
