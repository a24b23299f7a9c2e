"""Backup and restore at size (issue 7 item 5): N documents of about 1 KB in a service's database
and M MB of files in its GridFS bucket, on a fresh SecantusDB; `create_backup` (by default one snapshot
transaction over every database) to a .tar and `restore_backup` under another prefix, each beside the
raw library doing the same work in the same run (PyMongo reading every collection as raw BSON
into files, no transaction; `insert_many` of the same raw documents). A writer commits small
transactions all the while: its rate during the backup against its rate before says whether the
snapshot read holds writers up more than plain reads of the same data do. The load average is printed: the machine is shared.

    .venv/bin/python bench/bench_backup.py --n 20000 --mb 50

Figures on this machine (2 cores, shared with other engineers' tests), 2026-12-01, --n 20000 --mb 50,
one transaction over every database, load average 15.7: backup 8.30 s (73 MB .tar) vs the raw
PyMongo dump 5.78 s (1.44: the tar and the hashes); the writer 90 tx/s before, 11 tx/s during the
backup (0.12) and 12 tx/s during the raw dump (0.13): the single store process is busy reading
either way, the snapshot transaction holds no writer up beyond that; restore 8.44 s for 20,575
documents, unpacking and verification included, vs raw insert_many 4.57 s (1.85). (An earlier run,
one transaction per database, load 13.3: 3.48 s vs 2.00 s (1.74); writer 0.13 vs 0.22; restore 0.87.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gridfs  # noqa: E402
from bson.codec_options import CodecOptions  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402
from pymongo import MongoClient  # noqa: E402

from devstack.backup import create_backup, restore_backup  # noqa: E402
from devstack.processes import Stack, free_port, start_embedded_store  # noqa: E402

RAW = CodecOptions(document_class=RawBSONDocument)


class Writer(threading.Thread):
    def __init__(self, client: MongoClient, db: str) -> None:
        super().__init__(daemon=True)
        self.coll = client[db].writes
        self.client = client
        self.stamps: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with self.client.start_session() as session, session.start_transaction():
                self.coll.insert_one({"at": time.time()}, session=session)
            self.stamps.append(time.monotonic())

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.stamps) / max(end - start, 1e-9)


def raw_dump(client: MongoClient, db: str, out: Path) -> None:
    out.mkdir(parents=True)
    for name in client[db].list_collection_names():
        with open(out / f"{name}.bson", "wb") as handle:
            for doc in client[db].get_collection(name, codec_options=RAW).find({}):
                handle.write(doc.raw)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    stack = Stack(work, dict(os.environ))
    port = free_port()
    start_embedded_store(stack, port, work / "store")
    url = f"mongodb://127.0.0.1:{port}/"
    client = MongoClient(url)
    try:
        db = client["bench_intake"]
        t = time.monotonic()
        for start in range(0, args.n, 1000):
            db.documents.insert_many([{"_id": f"d{i}", "subject": "Về việc triển khai " * 40, "n": i}
                                      for i in range(start, min(start + 1000, args.n))])
        bucket = gridfs.GridFSBucket(client["bench_archive"], bucket_name="files")
        block = os.urandom(1 << 20)
        for i in range(args.mb):
            bucket.upload_from_stream(f"f{i}.pdf", block[i:] + block[:i])
        print(f"seeded {args.n} documents and {args.mb} MB of files in {time.monotonic() - t:.1f} s")

        writer = Writer(client, "bench_dispatch")
        writer.start()
        time.sleep(3)
        before = (time.monotonic() - 3, time.monotonic())
        t = time.monotonic()
        done = create_backup(work / "b.tar", mongodb_url=url, prefix="bench")
        during = (t, time.monotonic())
        t = time.monotonic()
        for name in ("bench_intake", "bench_archive", "bench_dispatch"):
            raw_dump(client, name, work / "raw" / name)
        raw_seconds = time.monotonic() - t
        during_raw = (t, time.monotonic())
        writer.stop.set()
        writer.join()
        size = done.path.stat().st_size / 1e6
        print(f"backup {done.seconds:.2f} s ({size:.0f} MB .tar) vs raw PyMongo dump {raw_seconds:.2f} s "
              f"(ratio {done.seconds / raw_seconds:.2f}: the tar and the hashes)")
        print(f"writer {writer.rate(*before):.0f} tx/s before, {writer.rate(*during):.0f} tx/s during the backup "
              f"(ratio {writer.rate(*during) / max(writer.rate(*before), 1e-9):.2f}), "
              f"{writer.rate(*during_raw):.0f} tx/s during the raw dump (ratio {writer.rate(*during_raw) / max(writer.rate(*before), 1e-9):.2f})")

        restored = restore_backup(done.path, mongodb_url=url, prefix="again", var_dir=None)
        t = time.monotonic()
        for name in ("intake", "archive", "dispatch"):
            for path in (work / "raw" / f"bench_{name}").glob("*.bson"):
                from bson import decode_file_iter

                with open(path, "rb") as handle:
                    docs = list(decode_file_iter(handle, codec_options=RAW))
                for start in range(0, len(docs), 1000):
                    client[f"raw_{name}"][path.stem].insert_many(docs[start:start + 1000])
        raw_restore = time.monotonic() - t
        print(f"restore {restored.seconds:.2f} s ({restored.documents} documents, verify included) vs raw insert_many "
              f"{raw_restore:.2f} s (ratio {restored.seconds / raw_restore:.2f})")
        print(f"load average {os.getloadavg()[0]:.1f}")
    finally:
        client.close()
        stack.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
