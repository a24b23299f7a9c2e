"""Backup of a running system, restored into a second, empty one (issue 7 item 5, R-13; R-4.1
hashes and the audit chain, R-6.3 and R-7.2b registers, R-9.1 fixity).

The first system (the `system` fixture) registers a document from a simulated agency and issues
one; `vanthu backup create` takes it to a .tar while it runs; `backup verify` passes, and fails
naming the file once one byte of it is changed. `backup restore` puts it under a fresh prefix
before a second system (own var dir, token, axis, virtual host) starts on it: the same documents
with the same register numbers and files, the audit chains and a fixity run pass, search finds
the document again (the index rebuilt, not copied), the next arrival takes the next number, and
restoring again into the now non-empty system is refused. What was published shortly before the
backup goes out again and changes nothing twice; the restore is in the audit chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import tarfile
import time
import uuid

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from devstack.cli import _verify_services, app
from devstack.processes import SERVICES
from devstack.stack import StackOptions, start_stack
from shared import backup_manifest as bm
from shared.pdfdocs import DocumentText, render_document
from staff_http import http, wait_until, get_or_none as get

pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
SUBJECT = "Về việc sao lưu và phục hồi dữ liệu văn bản điện tử"






def arrival(urls, subject: str, **extra) -> dict:
    response = http.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/send", json={"subject": subject, **extra}, timeout=120)
    assert response.status_code == 200, response.text
    [document_id] = [d["document_id"] for d in response.json()["documents"]]

    def registered():
        return next((d for d in get(f"{urls['intake']}/documents?limit=500") or []
                     if d.get("response_for", {}).get("document_id") == document_id), None)

    return wait_until(registered, lambda d: d is not None and d["state"] == "registered", what=f"registration of {subject}")


def issue(urls) -> dict:
    pdf = render_document(DocumentText(type_name="BÁO CÁO", subject="Báo cáo sao lưu dữ liệu quý IV",
                                       number_notation="Số:      /BC-UBND"), number_fields=True).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("bao-cao.pdf", pdf, "application/pdf")},
                         data={"type_name": "Báo cáo", "subject": "Báo cáo sao lưu dữ liệu quý IV",
                               "recipients": PROVINCE_OFFICE, "signer_full_name": "Lê Văn Minh"}, timeout=30)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key).status_code == 202  # the leader's own approval
    return wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"), lambda r: r and r["state"] == "issued",
                      what="issued")


def file_hashes(urls, rid: str) -> dict[str, str]:
    """Each kept file of an archive record, downloaded: its listed SHA-256 -> the bytes' SHA-256."""
    record = get(f"{urls['archive']}/records/{rid}")
    assert record and record["files"], rid
    out = {}
    for entry in record["files"]:
        response = http.get(f"{urls['archive']}/records/{rid}/files/{entry['sha256']}", timeout=30)
        assert response.status_code == 200, response.text
        out[entry["sha256"]] = hashlib.sha256(response.content).hexdigest()
    return out


def search_ids(urls, q: str) -> list[str]:
    found = get(f"{urls['archive']}/search?q={q}")
    return [hit["id"] for hit in (found or {}).get("results", [])]


@pytest.fixture
def own_vhost(amqp_url):
    """The second system's own virtual host on the shared broker: the two never share a queue."""
    if not shutil.which("rabbitmqctl"):
        pytest.skip("rabbitmqctl is needed for the second system's virtual host")
    vhost = f"vanthu-restore-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True, check=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True, check=True)
    base = amqp_url.rsplit("/", 1)[0] if amqp_url.count("/") > 2 else amqp_url.rstrip("/")
    yield f"{base}/{vhost}"
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


def test_a_running_system_backed_up_and_restored_into_an_empty_one(system, mongodb_url, own_vhost, tmp_path, monkeypatch):
    stack, urls = system
    incoming = arrival(urls, SUBJECT)
    outgoing = issue(urls)
    incoming_rid, outgoing_rid = f"incoming:{incoming['id']}", f"outgoing:{outgoing['id']}"
    wait_until(lambda: get(f"{urls['archive']}/records/{outgoing_rid}"), lambda r: r is not None, what="outgoing archived")
    files_before = {rid: file_hashes(urls, rid) for rid in (incoming_rid, outgoing_rid)}
    assert all(set(h) == set(h.values()) for h in files_before.values())  # kept as listed
    wait_until(lambda: search_ids(urls, "sao luu phuc hoi"), lambda ids: incoming_rid in ids, what="search before")

    # --- the backup, taken while everything runs ---------------------------------------------
    source_prefix = stack.env["DATABASE_PREFIX"]
    backup = tmp_path / "vanthu.tar"
    runner = CliRunner()
    made = runner.invoke(app, ["backup", "create", str(backup), "--mongodb-url", mongodb_url, "--prefix", source_prefix])
    assert made.exit_code == 0, made.output
    print(next(line for line in made.output.splitlines() if " files in " in line))
    checked = runner.invoke(app, ["backup", "verify", str(backup)])
    assert checked.exit_code == 0 and "ok" in checked.output, checked.output
    with tarfile.open(backup) as tar:
        manifest = bm.loads(tar.extractfile(bm.MANIFEST_NAME).read())
        names = set(tar.getnames())
    counts = bm.collection_counts(manifest)
    for service in ("gateway", "intake", "dispatch", "signing", "archive", "portal"):
        assert any(db == f"{source_prefix}_{service}" and n > 0 for (db, _), n in counts.items()), service
    for collection in ("documents", "counters", "outbox", "inbox", "audit_log", "audit_head"):
        assert counts[(f"{source_prefix}_intake", collection)] > 0, collection
    assert counts[(f"{source_prefix}_archive", "files.files")] >= 2 and counts[(f"{source_prefix}_archive", "files.chunks")] >= 2
    assert bm.bson_path(f"{source_prefix}_archive", "files.chunks") in names
    assert manifest["source"]["database_prefix"] == source_prefix and manifest["software"]["vanthu"]

    # One byte changed inside a member of a copy: verify names that file, restore refuses it.
    damaged = tmp_path / "damaged.tar"
    shutil.copyfile(backup, damaged)
    victim = bm.bson_path(f"{source_prefix}_intake", "documents")
    with tarfile.open(damaged) as tar:
        offset = tar.getmember(victim).offset_data + 40
    with open(damaged, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x20]))
    bad = runner.invoke(app, ["backup", "verify", str(damaged)])
    assert bad.exit_code == 1 and victim in bad.output.replace("\n", "") and "SHA-256" in bad.output, bad.output

    # --- restore into an empty store prefix, then the second system starts on it ------------
    target_prefix = f"rs{uuid.uuid4().hex[:8]}"
    var2 = tmp_path / "restored"
    stale = var2 / "archive-search" / f"{target_prefix}_archive.sqlite3"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an index of some other state")  # a restore never keeps a derived index
    restored = runner.invoke(app, ["backup", "restore", str(backup), "--mongodb-url", mongodb_url,
                                   "--prefix", target_prefix, "--var-dir", str(var2)])
    assert restored.exit_code == 0, restored.output
    print(next(line for line in restored.output.splitlines() if "restored" in line))
    assert "published again" in restored.output  # minutes-old messages may have been in the broker
    assert not stale.exists()
    refused = runner.invoke(app, ["backup", "restore", str(damaged), "--mongodb-url", mongodb_url, "--prefix", f"rs{uuid.uuid4().hex[:8]}"])
    assert refused.exit_code == 1 and "nothing restored" in refused.output

    second = start_stack(StackOptions.isolated(var2, amqp_url=own_vhost, mongodb_url=mongodb_url,
                                               database_prefix=target_prefix, axis_poll_interval=0.5))
    try:
        urls2 = {name: second.env[f"{name.upper()}_URL"] for name in SERVICES}
        urls2["axis"] = second.env["AXIS_URL"]
        http.use_keys(second.env["AUTH_KEYS_DIR"])  # the second system's own keys: none were restored

        again = get(f"{urls2['intake']}/documents/{incoming['id']}")
        assert again["register"] == incoming["register"] and again["metadata"] == incoming["metadata"]
        assert again["verification"]["verdict"] == "passed" and again["package_id"] == incoming["package_id"]
        issued = get(f"{urls2['dispatch']}/outgoing/{outgoing['id']}")
        assert issued["state"] == "issued" and issued["register"] == outgoing["register"] and issued["code"] == outgoing["code"]
        assert {rid: file_hashes(urls2, rid) for rid in files_before} == files_before

        # The search index is rebuilt from the restored records at the archive's start.
        wait_until(lambda: search_ids(urls2, "sao luu phuc hoi"), lambda ids: incoming_rid in ids, what="search after restore")

        # Fixity over every restored file, as the operator.
        run = http.post(f"{urls2['archive']}/fixity/run", as_="vanhanh", timeout=120)
        assert run.status_code == 200, run.text
        assert run.json()["verdict"] == "passed" and run.json()["counts"]["records"] >= 2, run.json()

        # The registers go on from where they were (R-6.3, R-7.2b): the next arrival takes the next number.
        # (The second axis is new: its agency's numbering starts again, so the number is forced
        # past the first's, else the DocumentId is one intake has seen and rightly ignores.)
        later = arrival(urls2, "Về việc kiểm tra sau phục hồi", code_number=90)
        assert later["id"] != incoming["id"]
        assert later["register"]["year"] == incoming["register"]["year"]
        assert later["register"]["number"] > incoming["register"]["number"]
        highest = max(d["register"]["number"] for d in get(f"{urls2['intake']}/documents?limit=500")
                      if d.get("register") and d["id"] != later["id"] and d["register"]["year"] == later["register"]["year"])
        assert later["register"]["number"] == highest + 1
        # What the restore published again was recognised, not handled twice: nothing doubled.
        time.sleep(3)
        assert len(get(f"{urls2['intake']}/documents?limit=500")) == counts[(f"{source_prefix}_intake", "documents")] + 1
        assert len(get(f"{urls2['dispatch']}/outgoing?limit=500")) == counts[(f"{source_prefix}_dispatch", "outgoing")]
        store = MongoClient(mongodb_url, tz_aware=True)
        try:
            restore_entry = store[f"{target_prefix}_intake"].audit_log.find_one({"action": "backup.restored"})
            assert restore_entry["details"]["manifest_sha256"] and restore_entry.get("seq")  # sealed onto the chain
            wait_until(lambda: store[f"{target_prefix}_intake"].outbox.count_documents({"replayed_after_restore": True, "state": "pending"}),
                       lambda n: n == 0, timeout=60, what="the replayed messages published")
        finally:
            store.close()

        # Every audit chain of the restored system verifies, the same check as `vanthu audit verify`.
        monkeypatch.setenv("MONGODB_URL", mongodb_url)
        monkeypatch.setenv("DATABASE_PREFIX", target_prefix)
        time.sleep(2)  # the chainers seal every second
        reports = asyncio.run(_verify_services(list(SERVICES)))
        assert all(not isinstance(r, Exception) and r.ok for _, _, r in reports), reports
        sealed = {name: r.sealed for name, _, r in reports}
        assert sealed["intake"] > 0 and sealed["dispatch"] > 0 and sealed["archive"] > 0, sealed

        # Restoring into the system now holding data is refused, naming what is there.
        twice = runner.invoke(app, ["backup", "restore", str(backup), "--mongodb-url", mongodb_url, "--prefix", target_prefix])
        assert twice.exit_code == 1 and "not empty" in twice.output and f"{target_prefix}_intake" in twice.output.replace("\n", "")
    finally:
        second.stop_all()
        http.use_keys(stack.env["AUTH_KEYS_DIR"])
