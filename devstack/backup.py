"""`vanthu backup` — the whole store to a directory or a .tar/.tar.gz, checked, and back (issue 7
item 5, R-13).

  vanthu backup create DEST    every service's database (`<prefix>_<service>`), every collection:
                               GridFS buckets (the files), registers, counters, outbox/inbox, the
                               audit log and its head; a manifest of SHA-256s and counts
  vanthu backup verify SRC     the manifest against the files, nothing restored; exit 1 naming the file
  vanthu backup restore SRC    into an EMPTY system (refused while any target database holds data)

The store is MONGODB_URL, the databases DATABASE_PREFIX's (or --mongodb-url, --prefix); a restore
may go to another prefix. The documents are copied as raw BSON, never decoded: _id and every
type (datetimes, binary, ObjectId, Decimal128, key order) come back byte for byte. The layout
under `dump/` is mongodump's (`<db>/<collection>.bson` + `.metadata.json`).

Consistency, while the services run: by default every database is read inside ONE snapshot
transaction (a transaction may read several databases), so the backup is one point in time of
the whole system: every committed unit of work (state, outbox, audit, inbox mark) is in it whole
or not at all, in every service alike. SecantusDB pins the snapshot store-wide at the first read
(tests/ops/test_backup_store.py shows pairs written across two databases never split; snapshot
*sessions* outside a transaction it accepts but does not pin, so they are not used). MongoDB
(replica set) does the same within transactionLifetimeLimitSeconds (60 s by default): a store
too big to read in that time takes `--consistency database` (one transaction per database; a
message in flight between two services may then be in neither) or `--consistency none` with the
services stopped.

After a restore: what was published in the last 24 hours before the backup (--replay-hours) is
published again when the services start (outbox rows back to pending: those messages may have
been in the broker, which is not backed up; the consumers' inbox marks make a second delivery
harmless), and each restored audit log gets a `backup.restored` entry (sealed by the service).

Not in the backup, on purpose: the signing keys (they never leave the token; the token has its
own backup: SoftHSM2's TOKEN_CONFIG_DIR — `tokens/`, `softhsm2.conf`, the certificates in `pki/`
— copied while the signing service is stopped, or the HSM vendor's procedure); the token
issuers' keys (AUTH_KEYS_DIR: made again with `vanthu keys`, or kept with the other secrets); the
configuration (environment, deploy/); and the archive's search index (VAR_DIR/archive-search:
derived from the store; a restore deletes the target's, so the archive rebuilds it at its start).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import bson
import pymongo
import typer
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient, uri_parser
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devstack.processes import SERVICES
from shared import backup_manifest as bm
from shared.config import REPO_ROOT, Settings
from shared.db import AUDIT, OUTBOX

backup_app = typer.Typer(help="back up the store and restore it into an empty system (R-13)", no_args_is_help=True)
console = Console()

RAW = CodecOptions(document_class=RawBSONDocument)
CHUNK = 1 << 20
# Outbox rows sent this long before the backup are published again after a restore (the broker's
# queues, retries and delays are not in the backup); more than the longest retry path.
REPLAY_WINDOW = dt.timedelta(hours=24)
INSERT_BATCH_BYTES = 8 << 20
INSERT_BATCH_DOCS = 1000
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
CONSISTENCY = {
    "system": "every database read in one snapshot transaction: one point in time for the whole system",
    "database": ("each database read in its own snapshot transaction: one point in time per database, none across "
                 "them (a message in flight between two services may be in neither)"),
    "none": "plain reads: consistent only if nothing wrote during the backup (services stopped)",
}


class BackupError(Exception):
    """Said to the operator as it is; the command exits 1."""


@dataclass
class Created:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    seconds: float


@dataclass
class Restored:
    databases: dict[str, str]  # source name -> target name
    documents: int
    removed_index_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    replayed: dict[str, int] = field(default_factory=dict)  # target database -> outbox rows made pending again


def _client(url: str) -> MongoClient:
    return MongoClient(url, tz_aware=True, appname="vanthu-backup", serverSelectionTimeoutMS=5000,
                       uuidRepresentation="standard")


def _is_tar(path: Path) -> bool:
    return path.name.endswith(TAR_SUFFIXES)


# --- create ----------------------------------------------------------------------------------


def _software() -> dict[str, Any]:
    try:
        version = metadata.version("vanthu")
    except metadata.PackageNotFoundError:
        version = None
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    return {"vanthu": version, "git_commit": commit.stdout.strip() if commit.returncode == 0 else None,
            "pymongo": pymongo.version, "format": bm.FORMAT}


def _collections(db) -> list[dict[str, Any]]:
    """Plain collections (GridFS `<bucket>.files`/`.chunks` are plain collections), no views or system ones."""
    infos = [i for i in db.list_collections() if i.get("type", "collection") == "collection" and not i["name"].startswith("system.")]
    return sorted(infos, key=lambda i: i["name"])


@contextmanager
def _reading(client: MongoClient, snapshot: bool) -> Iterator[Any]:
    """A session whose reads are one snapshot transaction (read only: aborted at the end)."""
    with client.start_session() as session:
        if snapshot:
            session.start_transaction(read_concern=ReadConcern("snapshot"))
        try:
            yield session
        finally:
            if snapshot and session.in_transaction:
                session.abort_transaction()


def _dump_collection(db, info: dict[str, Any], indexes: list, out_dir: Path, session, files: dict[str, bm.FileFact]) -> int:
    name = info["name"]
    meta = {"options": info.get("options", {}), "indexes": indexes, "collectionName": name, "type": "collection"}
    meta_raw = json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS).encode()
    meta_rel = bm.metadata_path(db.name, name)
    (out_dir / meta_rel).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / meta_rel).write_bytes(meta_raw)
    files[meta_rel] = bm.FileFact(hashlib.sha256(meta_raw).hexdigest(), len(meta_raw))
    rel = bm.bson_path(db.name, name)
    digest, size, documents = hashlib.sha256(), 0, 0
    with open(out_dir / rel, "wb") as out:
        for doc in db.get_collection(name, codec_options=RAW).find({}, sort=[("_id", 1)], session=session):
            raw = doc.raw
            out.write(raw)
            digest.update(raw)
            size += len(raw)
            documents += 1
    files[rel] = bm.FileFact(digest.hexdigest(), size, documents)
    return documents


def _dump(client: MongoClient, names: list[str], out_dir: Path, consistency: str,
          files: dict[str, bm.FileFact]) -> dict[str, list[dict[str, Any]]]:
    # Listing is not allowed inside a transaction: collections and indexes are read first (they
    # are made at a service's start, not while it runs), the documents in the transaction.
    infos = {name: _collections(client[name]) for name in names}
    indexes = {(name, i["name"]): list(client[name][i["name"]].list_indexes()) for name in names for i in infos[name]}
    counts: dict[str, list[dict[str, Any]]] = {}

    def dump_one(name: str, session) -> None:
        counts[name] = [{"name": i["name"], "documents": _dump_collection(client[name], i, indexes[(name, i["name"])],
                                                                        out_dir, session, files)} for i in infos[name]]

    if consistency == "system":  # one transaction may read several databases: one point in time
        with _reading(client, True) as session:
            for name in names:
                dump_one(name, session)
    else:
        for name in names:
            with _reading(client, consistency == "database") as session:
                dump_one(name, session)
    return counts


def create_backup(dest: Path, *, mongodb_url: str, prefix: str, services: tuple[str, ...] = SERVICES,
                  consistency: str = "system") -> Created:
    """Every service's database to `dest` (a new directory, or a .tar/.tar.gz file). `consistency`:
    "system" one snapshot transaction over every database, "database" one per database, "none"."""
    if consistency not in CONSISTENCY:
        raise BackupError(f"consistency is one of {', '.join(CONSISTENCY)}, not {consistency!r}")
    dest = Path(dest)
    if dest.exists() and (_is_tar(dest) or not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists; a backup never overwrites one")
    started = time.monotonic()
    created_at = dt.datetime.now(dt.timezone.utc)
    dest.parent.mkdir(parents=True, exist_ok=True)
    client = _client(mongodb_url)
    partial = dest.with_name(dest.name + ".partial")
    work = Path(tempfile.mkdtemp(prefix=".vanthu-backup-", dir=dest.parent)) if _is_tar(dest) else dest
    try:
        server = client.admin.command("buildInfo").get("version")
        existing = set(client.list_database_names())
        files: dict[str, bm.FileFact] = {}
        databases = []
        work.mkdir(parents=True, exist_ok=True)
        names = {service: f"{prefix}_{service}" for service in services}
        dumped = _dump(client, [n for n in names.values() if n in existing], work, consistency, files)
        for service, name in names.items():
            databases.append({"service": service, "name": name, "collections": dumped.get(name, [])})
        source = {"store": ",".join(f"{h}:{p}" for h, p in uri_parser.parse_uri(mongodb_url)["nodelist"]),
                  "server_version": server, "database_prefix": prefix}
        manifest = bm.build_manifest(created_at=created_at, source=source, software=_software(),
                                     consistency=f"{consistency}: {CONSISTENCY[consistency]}", databases=databases, files=files)
        raw = bm.dumps(manifest)
        (work / bm.MANIFEST_NAME).write_bytes(raw)
        if _is_tar(dest):
            with tarfile.open(partial, "w:gz" if not dest.name.endswith(".tar") else "w") as tar:
                tar.add(work / bm.MANIFEST_NAME, arcname=bm.MANIFEST_NAME)  # first: readable without the rest
                for rel in sorted(files):
                    tar.add(work / rel, arcname=rel)
            partial.rename(dest)
    except PyMongoError as exc:
        hint = (" — if the snapshot transaction outlived the store's limit (MongoDB: transactionLifetimeLimitSeconds), "
                "use --consistency database, or stop the services and use --consistency none") if consistency != "none" else ""
        raise BackupError(f"the store at {mongodb_url} could not be read: {exc}{hint}") from exc
    finally:
        client.close()
        if work != dest:
            shutil.rmtree(work, ignore_errors=True)
            partial.unlink(missing_ok=True)
    return Created(dest, manifest, hashlib.sha256(raw).hexdigest(), time.monotonic() - started)


# --- reading a backup ---------------------------------------------------------------------------


class _Reader:
    """A backup directory or tar file, member by member."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BackupError(f"{self.path}: no such backup")
        self.tar = tarfile.open(self.path, "r:*") if self.path.is_file() else None

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()

    def members(self) -> list[str]:
        """In the archive's order (a compressed tar is read forwards once), a directory's sorted."""
        if self.tar is None:
            return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
        names = [m.name for m in self.tar.getmembers() if not m.isdir()]
        odd = [m.name for m in self.tar.getmembers() if not (m.isfile() or m.isdir())]
        if odd:
            raise BackupError(f"{self.path}: not a plain file in the archive: {', '.join(odd)}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BackupError(f"{self.path}: in the archive more than once: {', '.join(twice)}")
        return names

    def extract(self, into: Path) -> "_Reader":
        """A tar's members into a directory (restore reads collections in manifest order, which a
        compressed tar would re-read from its start for each); a directory is read in place."""
        if self.tar is None:
            return self
        names = self.members()
        odd = [n for n in names if not bm.safe_member(n)]
        if odd:
            raise BackupError(f"{self.path}: not part of a backup's layout, nothing restored: {', '.join(odd)}")
        self.tar.extractall(into, members=[self.tar.getmember(n) for n in names], filter="data")
        return _Reader(into)

    @contextmanager
    def open(self, rel: str) -> Iterator[IO[bytes]]:
        if not bm.safe_member(rel):
            raise BackupError(f"{self.path}: unexpected member {rel!r}")
        if self.tar is not None:
            handle = self.tar.extractfile(rel)
            if handle is None:
                raise BackupError(f"{self.path}: {rel} is not a file")
        else:
            handle = open(self.path / rel, "rb")
        try:
            yield handle
        finally:
            handle.close()

    def manifest(self) -> dict[str, Any]:
        try:
            with self.open(bm.MANIFEST_NAME) as handle:
                return bm.loads(handle.read())
        except KeyError as exc:
            raise BackupError(f"{self.path}: no {bm.MANIFEST_NAME}") from exc
        except (OSError, ValueError) as exc:
            raise BackupError(f"{self.path}: {bm.MANIFEST_NAME} unreadable: {exc}") from exc


def _fact(handle: IO[bytes], *, count_bson: bool) -> bm.FileFact:
    """SHA-256 and size; for BSON, the documents by their length prefixes (-1: the stream is broken)."""
    digest, size = hashlib.sha256(), 0
    documents, need, head = 0, 0, b""  # need: bytes left of the current document
    while block := handle.read(CHUNK):
        digest.update(block)
        size += len(block)
        if not count_bson or documents < 0:
            continue
        view = memoryview(block)
        while view:
            if need:
                step = min(need, len(view))
                need -= step
                view = view[step:]
                continue
            take = 4 - len(head)
            head += bytes(view[:take])
            view = view[take:]
            if len(head) == 4:
                length = int.from_bytes(head, "little")
                head = b""
                if length < 5:
                    documents = -1
                    break
                documents += 1
                need = length - 4
    if count_bson and (need or head):
        documents = -1  # truncated in a document
    return bm.FileFact(digest.hexdigest(), size, documents if count_bson else None)


def verify_backup(src: Path) -> tuple[dict[str, Any], list[bm.Problem]]:
    reader = _Reader(src)
    try:
        return _verify(reader)
    finally:
        reader.close()


def _verify(reader: _Reader) -> tuple[dict[str, Any], list[bm.Problem]]:
    manifest = reader.manifest()
    found: dict[str, bm.FileFact] = {}
    problems: list[bm.Problem] = []
    for rel in reader.members():
        if rel == bm.MANIFEST_NAME:
            continue
        if not bm.safe_member(rel):
            problems.append(bm.Problem(rel, "not part of a backup's layout"))
            continue
        with reader.open(rel) as handle:
            found[rel] = _fact(handle, count_bson=rel.endswith(".bson"))
    return manifest, problems + bm.check(manifest, found)


# --- restore ------------------------------------------------------------------------------------


def _holding_data(client: MongoClient, names: list[str]) -> list[str]:
    existing = set(client.list_database_names())
    full = []
    for name in names:
        if name not in existing:
            continue
        db = client[name]
        for coll in db.list_collection_names():
            if not coll.startswith("system.") and db[coll].find_one({}, projection={"_id": 1}) is not None:
                full.append(f"{name}.{coll}")
    return full


def _insert_all(collection, handle: IO[bytes]) -> int:
    batch: list[RawBSONDocument] = []
    size = total = 0
    for doc in bson.decode_file_iter(handle, codec_options=RAW):
        batch.append(doc)
        size += len(doc.raw)
        if len(batch) >= INSERT_BATCH_DOCS or size >= INSERT_BATCH_BYTES:
            collection.insert_many(batch, ordered=True)
            total += len(batch)
            batch, size = [], 0
    if batch:
        collection.insert_many(batch, ordered=True)
        total += len(batch)
    return total


def _replay_in_flight(client: MongoClient, targets: list[str], since: dt.datetime) -> dict[str, int]:
    """Messages published shortly before the backup may have been in the broker, which is not
    backed up: those outbox rows go back to pending and the relay publishes them again at start.
    Consumers are idempotent (inbox marks, restored too), so one already handled changes nothing."""
    replayed = {}
    for name in targets:
        result = client[name][OUTBOX].update_many({"state": "sent", "sent_at": {"$gte": since}},
                                                  {"$set": {"state": "pending", "replayed_after_restore": True}})
        replayed[name] = result.modified_count
    return replayed


def _audit_restore(client: MongoClient, mapping: dict[str, str], manifest: dict[str, Any], manifest_sha256: str,
                   replayed: dict[str, int]) -> None:
    """The restore is a change of state: an entry in each restored audit log (R-4.1), unsealed
    like every new entry; the service's chainer seals it onto the restored chain at start."""
    at = dt.datetime.now(dt.timezone.utc)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    for source, target in mapping.items():
        client[target][AUDIT].insert_one({
            "_id": uuid.uuid4().hex, "at": at, "action": "backup.restored", "subject_type": "database",
            "subject_id": target, "actor": "system:backup", "correlation_id": None, "origin": "cli:vanthu backup restore",
            "details": {"from_database": source, "backup_created_at": manifest["created_at"],
                        "backup_source": manifest["source"], "manifest_sha256": manifest_sha256,
                        "os_user": getpass.getuser(), "outbox_replayed": replayed.get(target, 0)},
        })


def restore_backup(src: Path, *, mongodb_url: str, prefix: str, var_dir: Path | None,
                   replay_window: dt.timedelta = REPLAY_WINDOW) -> Restored:
    """Into an empty system only: refused, before anything is written, if a target database holds
    a document. Checks the backup first and the counts after; then what was published in the last
    `replay_window` before the backup goes out again, and each restored audit log records it."""
    started = time.monotonic()
    archive = _Reader(src)
    unpacked = tempfile.TemporaryDirectory(prefix="vanthu-restore-")
    client = _client(mongodb_url)
    documents, written = 0, False
    try:
        # What is checked is what is restored: a tar's files once unpacked.
        reader = archive.extract(Path(unpacked.name))
        manifest, problems = _verify(reader)
        if problems:
            raise BackupError("the backup does not match its manifest, nothing restored:\n" + "\n".join(f"  {p}" for p in problems))
        source_prefix = manifest["source"]["database_prefix"]
        mapping = {db["name"]: bm.target_name(db["name"], source_prefix, prefix) for db in manifest["databases"]}
        full = _holding_data(client, list(mapping.values()))
        if full:
            raise BackupError(
                "refused: the target system is not empty — a backup is restored only into an empty system "
                f"(store {mongodb_url}, prefix {prefix!r}); these already hold data: {', '.join(full)}. "
                "Restore into a fresh store or another DATABASE_PREFIX, or drop these databases yourself first.")
        for db_entry in manifest["databases"]:
            target = client[mapping[db_entry["name"]]]
            for coll in db_entry["collections"]:
                name = coll["name"]
                written = True
                with reader.open(bm.metadata_path(db_entry["name"], name)) as handle:
                    meta = json_util.loads(handle.read().decode())
                try:
                    target.command({"create": name, **meta.get("options", {})})
                except OperationFailure as exc:
                    if exc.code != 48:  # NamespaceExists: an empty collection a service made; fine
                        raise
                specs = [{k: v for k, v in dict(spec).items() if k not in ("v", "ns")}
                         for spec in meta.get("indexes", []) if spec.get("name") != "_id_"]
                if specs:  # before the documents: unique indexes hold while they go in
                    target.command({"createIndexes": name, "indexes": specs})
                with reader.open(bm.bson_path(db_entry["name"], name)) as handle:
                    documents += _insert_all(target[name], handle)
        wrong = []
        for (source_db, name), count in bm.collection_counts(manifest).items():
            have = client[mapping[source_db]][name].count_documents({})
            if have != count:
                wrong.append(f"{mapping[source_db]}.{name}: {have} documents, backup has {count}")
        if wrong:
            raise BackupError("restored, but the counts differ:\n  " + "\n  ".join(wrong))
        since = dt.datetime.fromisoformat(manifest["created_at"]) - replay_window
        replayed = _replay_in_flight(client, list(mapping.values()), since) if replay_window else {}
        with reader.open(bm.MANIFEST_NAME) as handle:
            manifest_sha256 = hashlib.sha256(handle.read()).hexdigest()
        _audit_restore(client, mapping, manifest, manifest_sha256, replayed)
    except PyMongoError as exc:
        if not written:
            raise BackupError(f"the store at {mongodb_url} could not be used: {exc}; nothing restored") from exc
        raise BackupError(f"restore into {mongodb_url} failed: {exc}; the target databases are partly written — "
                          f"drop {', '.join(mapping.values())} before trying again") from exc
    finally:
        archive.close()
        unpacked.cleanup()
        client.close()
    removed: list[Path] = []
    if var_dir is not None:
        # The search index is derived: any file there is of the empty system; the archive rebuilds
        # it from the restored records at its next start.
        from services.archive.adapters.search_index import index_path

        for target_name in mapping.values():
            path = index_path(var_dir, target_name)
            for stale in path.parent.glob(path.name + "*"):
                stale.unlink()
                removed.append(stale)
    return Restored(mapping, documents, removed, time.monotonic() - started, replayed)


# --- the commands -------------------------------------------------------------------------------

URL_OPTION = typer.Option(None, "--mongodb-url", help="the store (default: MONGODB_URL)")
PREFIX_OPTION = typer.Option(None, "--prefix", help="the databases' prefix (default: DATABASE_PREFIX)")


def _fail(message: str) -> None:
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(1)


@backup_app.command("create")
def create_command(
    dest: Path = typer.Argument(..., help="a new directory, or a file ending .tar, .tar.gz or .tgz"),
    mongodb_url: str = URL_OPTION,
    prefix: str = PREFIX_OPTION,
    consistency: str = typer.Option("system", help="system: one snapshot transaction over every database; database: one "
                                    "each (for a store too big to read within one transaction's time limit); none: plain reads, "
                                    "services stopped"),
) -> None:
    """Back up every service's database: documents, files (GridFS), registers, counters, outbox,
    inbox, audit log and head; with a manifest of SHA-256s and counts."""
    settings = Settings()
    try:
        done = create_backup(dest, mongodb_url=mongodb_url or settings.mongodb_url, prefix=prefix or settings.database_prefix,
                             consistency=consistency)
    except BackupError as exc:
        _fail(str(exc))
    table = Table(title=f"backup {done.path}")
    for column in ("database", "collections", "documents"):
        table.add_column(column)
    for db in done.manifest["databases"]:
        table.add_row(db["name"], str(len(db["collections"])), str(sum(c["documents"] for c in db["collections"])))
    console.print(table)
    console.print(f"{len(done.manifest['files'])} files in {done.seconds:.1f} s; {done.manifest['consistency']}")
    console.print(f"manifest SHA-256 {done.manifest_sha256} (note it: the manifest proves the files, this proves the manifest)")
    console.print("Not included: the token's keys (back up TOKEN_CONFIG_DIR with the signing service stopped), AUTH_KEYS_DIR, "
                  "the configuration (environment, deploy/), the search index (rebuilt by the archive).")


@backup_app.command("verify")
def verify_command(src: Path = typer.Argument(..., help="a backup directory or .tar/.tar.gz")) -> None:
    """Check every file against the manifest (SHA-256, size, documents); nothing is restored. Exit 1 naming each bad file."""
    try:
        manifest, problems = verify_backup(src)
    except BackupError as exc:
        _fail(str(exc))
    if problems:
        for problem in problems:
            console.print(f"[red]{escape(str(problem))}[/red]")
        _fail(f"{src}: {len(problems)} problem(s); the backup is not whole")
    counts = bm.collection_counts(manifest)
    console.print(f"[green]ok[/green]: {len(manifest['files'])} files, {len(counts)} collections, {sum(counts.values())} documents; "
                  f"taken {manifest['created_at']} from {manifest['source']['store']} (prefix {manifest['source']['database_prefix']}), "
                  f"vanthu {manifest['software'].get('vanthu')} {manifest['software'].get('git_commit') or ''}")


@backup_app.command("restore")
def restore_command(
    src: Path = typer.Argument(..., help="a backup directory or .tar/.tar.gz"),
    mongodb_url: str = URL_OPTION,
    prefix: str = PREFIX_OPTION,
    var_dir: Path = typer.Option(None, help="the restored system's var dir, for its search index (default: VAR_DIR)"),
    replay_hours: float = typer.Option(REPLAY_WINDOW.total_seconds() / 3600, help="publish again what was sent this many "
                                       "hours before the backup (it may have been in the broker); 0: nothing"),
) -> None:
    """Restore into an EMPTY system (its services stopped); refused if any target database holds data."""
    settings = Settings()
    try:
        done = restore_backup(src, mongodb_url=mongodb_url or settings.mongodb_url, prefix=prefix or settings.database_prefix,
                              var_dir=var_dir or settings.var_dir, replay_window=dt.timedelta(hours=replay_hours))
    except BackupError as exc:
        _fail(str(exc))
    for source, target in done.databases.items():
        console.print(f"{source} → {target}")
    console.print(f"[green]restored[/green] {done.documents} documents in {done.seconds:.1f} s"
                  + (f"; search index removed: {', '.join(map(str, done.removed_index_files))}" if done.removed_index_files else ""))
    if any(done.replayed.values()):
        console.print("published again at start (sent shortly before the backup; consumers skip what they had): "
                      + ", ".join(f"{name} {count}" for name, count in done.replayed.items() if count))
    console.print("Next: start the services (the archive rebuilds its search index), then `vanthu audit verify` "
                  "and a fixity run (POST /fixity/run on the archive, as the operator).")
