"""The backup's manifest (issue 7 item 5, R-13): what a backup holds and how to check it.

Pure rules, no I/O: `devstack/backup.py` reads and writes the files. A backup is

    manifest.json                       this manifest (JSON, UTF-8)
    dump/<database>/<collection>.bson   the documents, concatenated BSON as mongodump writes them
    dump/<database>/<collection>.metadata.json   options and indexes (canonical extended JSON)

The manifest names every other file with its SHA-256 and size, every collection with its count
of documents, when and from where it was taken and by which software. It detects corruption and
truncation; it is not a signature (whoever can rewrite the backup can rewrite the manifest),
so `vanthu backup create` prints the manifest's own SHA-256 for the operator to note.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

FORMAT = "vanthu-backup/1"
MANIFEST_NAME = "manifest.json"
DUMP_DIR = "dump"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class FileFact:
    """What was read from one file of a backup."""

    sha256: str
    size: int
    documents: int | None = None  # for a .bson file: how many documents it holds


@dataclass(frozen=True)
class Problem:
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def bson_path(database: str, collection: str) -> str:
    return f"{DUMP_DIR}/{database}/{collection}.bson"


def metadata_path(database: str, collection: str) -> str:
    return f"{DUMP_DIR}/{database}/{collection}.metadata.json"


def safe_member(path: str) -> bool:
    """Only the layout above: no absolute paths, no `..`, no odd names (a tar may hold anything)."""
    if path == MANIFEST_NAME:
        return True
    parts = path.split("/")
    return (len(parts) == 3 and parts[0] == DUMP_DIR and all(_SAFE_NAME.match(p) and p not in (".", "..") for p in parts[1:]))


def build_manifest(
    *,
    created_at: dt.datetime,
    source: dict[str, Any],
    software: dict[str, Any],
    consistency: str,
    databases: list[dict[str, Any]],
    files: dict[str, FileFact],
) -> dict[str, Any]:
    """`databases`: [{service, name, collections: [{name, documents}]}], in dump order."""
    for path in files:
        if not safe_member(path) or path == MANIFEST_NAME:
            raise ValueError(f"not a backup member: {path!r}")
    return {
        "format": FORMAT,
        "created_at": created_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "software": software,
        "consistency": consistency,
        "databases": databases,
        "files": {path: {"sha256": fact.sha256, "size": fact.size} for path, fact in sorted(files.items())},
    }


def dumps(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def loads(raw: bytes) -> dict[str, Any]:
    manifest = json.loads(raw)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} manifest (format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
    return manifest


def collection_counts(manifest: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(db["name"], c["name"]): int(c["documents"]) for db in manifest["databases"] for c in db["collections"]}


def check(manifest: dict[str, Any], found: dict[str, FileFact]) -> list[Problem]:
    """Every file the manifest lists is there with its hash and size, a collection's file holds
    its count of documents, and nothing else is there. Empty list: the backup is whole."""
    problems: list[Problem] = []
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    for path, expected in sorted(listed.items()):
        fact = found.get(path)
        if fact is None:
            problems.append(Problem(path, "missing"))
        elif fact.size != expected["size"]:
            problems.append(Problem(path, f"size {fact.size}, manifest says {expected['size']}"))
        elif fact.sha256 != expected["sha256"]:
            problems.append(Problem(path, f"SHA-256 {fact.sha256}, manifest says {expected['sha256']}"))
    for path in sorted(set(found) - set(listed) - {MANIFEST_NAME}):
        problems.append(Problem(path, "not in the manifest"))
    for (database, collection), count in collection_counts(manifest).items():
        path = bson_path(database, collection)
        if path not in listed:
            problems.append(Problem(path, "collection listed without its file"))
            continue
        fact = found.get(path)
        if fact is not None and fact.documents is not None and fact.documents < 0:
            problems.append(Problem(path, "not a whole BSON stream (truncated or broken)"))
        elif fact is not None and fact.documents is not None and fact.documents != count:
            problems.append(Problem(path, f"{fact.documents} documents, manifest says {count}"))
    return problems


def target_name(source_database: str, source_prefix: str, target_prefix: str) -> str:
    """`<prefix>_<service>` of the source becomes `<target prefix>_<service>`."""
    head = f"{source_prefix}_"
    if not source_database.startswith(head):
        raise ValueError(f"database {source_database!r} does not carry the source prefix {source_prefix!r}")
    return f"{target_prefix}_{source_database[len(head):]}"
