"""An acknowledged commit survives the embedded store's process being killed: "nothing already
accepted is ever lost" holds for the store itself, not only for the services around it.

Without `--sync-on-commit` SecantusDB acknowledged commits its log had not yet flushed: a SIGKILL
right after lost 9 of 10 of them in a trial here, and the fault suite lost a signature record and
its signed PDF whose announcing message had already been published (the outgoing document then
waited for ever). `devstack/processes.py` starts the store with it; cost in
`bench/bench_store_durability.py`."""

from __future__ import annotations

import signal
import time

import pymongo
from pymongo.write_concern import WriteConcern

from devstack.processes import Stack, free_port, port_open, start_embedded_store

MAJORITY = WriteConcern(w="majority")


def test_writes_and_transactions_acknowledged_just_before_a_sigkill_are_there_after_the_restart(tmp_path):
    stack = Stack(tmp_path, {})
    port = free_port()
    store = start_embedded_store(stack, port, tmp_path / "store")  # as the devstack and tests start it
    url = f"mongodb://127.0.0.1:{port}/"
    lost = []
    try:
        for round_ in range(4):
            client = pymongo.MongoClient(url, serverSelectionTimeoutMS=20000)
            db = client["durability"]
            db.get_collection("rows", write_concern=MAJORITY).insert_one({"_id": f"row-{round_}"})
            with client.start_session() as session, session.start_transaction(write_concern=MAJORITY):
                db.inbox.insert_one({"_id": f"message-{round_}"}, session=session)
                db.outbox.insert_one({"_id": f"publish-{round_}", "state": "pending"}, session=session)
            store.kill(signal.SIGKILL)  # at once: no time for a later flush
            store.start()
            deadline = time.monotonic() + 60
            while not port_open("127.0.0.1", port):
                assert time.monotonic() < deadline, store.tail()
                time.sleep(0.1)
            client.close()  # after the restart: closing against a dead server waits for its timeout
            client = pymongo.MongoClient(url, serverSelectionTimeoutMS=20000)
            db = client["durability"]
            for collection, key in (("rows", f"row-{round_}"), ("inbox", f"message-{round_}"),
                                    ("outbox", f"publish-{round_}")):
                if db[collection].find_one({"_id": key}) is None:
                    lost.append(key)
            client.close()
    finally:
        stack.stop_all()
    assert lost == [], f"acknowledged but gone after the store's SIGKILL: {lost}"
