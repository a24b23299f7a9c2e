"""The local axis's state in SQLite (survives restarts): items waiting for their recipient,
per-agency counters, and what the simulated agencies received."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from pathlib import Path

from shared.clock import VN_TZ

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
  doc_id TEXT PRIMARY KEY, sender_doc_id TEXT, from_code TEXT, to_code TEXT, message_type TEXT,
  data BLOB, created REAL, status TEXT, status_at REAL, title TEXT, notation TEXT);
CREATE INDEX IF NOT EXISTS items_to ON items(to_code, message_type, status);
CREATE INDEX IF NOT EXISTS items_from ON items(from_code, sender_doc_id);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER);
CREATE TABLE IF NOT EXISTS sim_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, agency TEXT, axis_doc_id TEXT,
  document_id TEXT, code TEXT, subject TEXT, from_code TEXT, received_at REAL, signatures TEXT);
CREATE TABLE IF NOT EXISTS sim_statuses (id INTEGER PRIMARY KEY AUTOINCREMENT, agency TEXT, axis_doc_id TEXT,
  response_for_document_id TEXT, status_code TEXT, description TEXT, timestamp TEXT, received_at REAL);
CREATE TABLE IF NOT EXISTS sim_pending_statuses (id INTEGER PRIMARY KEY AUTOINCREMENT, agency TEXT, axis_doc_id TEXT,
  status_code TEXT);
"""
PENDING = ("pending", "processing")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, VN_TZ).isoformat(timespec="milliseconds")


class AxisStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def next_value(self, key: str) -> int:
        with self._lock:
            self._db.execute("INSERT INTO counters(key, value) VALUES(?, 1) ON CONFLICT(key) DO UPDATE SET value = value + 1", (key,))
            return self._db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()[0]

    def add_item(self, *, doc_id: str, sender_doc_id: str, from_code: str, to_code: str, message_type: str, data: bytes,
                 title: str = "", notation: str = "") -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO items VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (doc_id, sender_doc_id, from_code, to_code, message_type, data, now, "pending", now, title, notation),
            )

    def received(self, to_code: str, message_type: str) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(
                "SELECT doc_id, from_code, to_code, message_type, created, status FROM items "
                "WHERE to_code = ? AND message_type = ? AND status IN ('pending', 'processing') ORDER BY created, rowid",
                (to_code, message_type)).fetchall()

    def item(self, doc_id: str) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute("SELECT * FROM items WHERE doc_id = ?", (doc_id,)).fetchone()

    def set_status(self, doc_id: str, status: str) -> None:
        with self._lock:
            self._db.execute("UPDATE items SET status = ?, status_at = ? WHERE doc_id = ?", (status, time.time(), doc_id))

    def sent(self, from_code: str, message_type: str, sender_doc_id: str | None) -> list[sqlite3.Row]:
        query = "SELECT * FROM items WHERE from_code = ? AND message_type = ?"
        args: list = [from_code, message_type]
        if sender_doc_id:
            query += " AND sender_doc_id = ?"
            args.append(sender_doc_id)
        with self._lock:
            return self._db.execute(query + " ORDER BY created, rowid", args).fetchall()

    def accept_edoc(self, agency: str, axis_doc_id: str, document_id: str, code: str, subject: str, from_code: str,
                    signatures: list[dict], statuses_to_send: list[str]) -> None:
        """A simulated agency takes a document: its inbox row, the item done and the statuses it
        owes the sender, in one transaction — a kill of the axis then loses none of them."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO sim_inbox(agency, axis_doc_id, document_id, code, subject, from_code, received_at, signatures) "
                "VALUES(?,?,?,?,?,?,?,?)",
                (agency, axis_doc_id, document_id, code, subject, from_code, time.time(), json.dumps(signatures, ensure_ascii=False)))
            self._db.execute("UPDATE items SET status = 'done', status_at = ? WHERE doc_id = ?", (time.time(), axis_doc_id))
            self._db.executemany("INSERT INTO sim_pending_statuses(agency, axis_doc_id, status_code) VALUES(?,?,?)",
                                 [(agency, axis_doc_id, status) for status in statuses_to_send])

    def pending_statuses(self, axis_doc_id: str | None = None) -> list[sqlite3.Row]:
        """Statuses the simulated agencies still owe, oldest first (all, or for one received item)."""
        query = "SELECT * FROM sim_pending_statuses" + (" WHERE axis_doc_id = ?" if axis_doc_id else "") + " ORDER BY id"
        with self._lock:
            return self._db.execute(query, (axis_doc_id,) if axis_doc_id else ()).fetchall()

    def release_status(self, pending_id: int, *, doc_id: str, sender_doc_id: str, from_code: str, to_code: str,
                       data: bytes) -> bool:
        """One owed status put on the axis for its recipient, and struck off, in one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            if self._db.execute("DELETE FROM sim_pending_statuses WHERE id = ?", (pending_id,)).rowcount != 1:
                return False  # already sent
            self._db.execute("INSERT INTO items VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                             (doc_id, sender_doc_id, from_code, to_code, "status", data, now, "pending", now, "", ""))
            return True

    def inbox(self, agency: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM sim_inbox WHERE agency = ? ORDER BY id", (agency,)).fetchall()
        return [{"document_id": r["document_id"], "code": r["code"], "subject": r["subject"], "from": r["from_code"],
                 "axis_doc_id": r["axis_doc_id"], "received_at": _iso(r["received_at"]), "signatures": json.loads(r["signatures"])}
                for r in rows]

    def add_status(self, agency: str, axis_doc_id: str, response_for_document_id: str, status_code: str, description: str,
                   timestamp: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO sim_statuses(agency, axis_doc_id, response_for_document_id, status_code, description, timestamp, received_at) "
                "VALUES(?,?,?,?,?,?,?)", (agency, axis_doc_id, response_for_document_id, status_code, description, timestamp, time.time()))

    def statuses(self, agency: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM sim_statuses WHERE agency = ? ORDER BY id", (agency,)).fetchall()
        return [{"response_for_document_id": r["response_for_document_id"], "status_code": r["status_code"],
                 "description": r["description"], "timestamp": r["timestamp"], "received_at": _iso(r["received_at"]),
                 "axis_doc_id": r["axis_doc_id"]} for r in rows]
