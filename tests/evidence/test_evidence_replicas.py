"""Two gateway replicas (and two of every other service) keep one evidence log (issue 7 items 4
and 7): both poll, send, chain and seal; afterwards the log has one entry per package each way,
seqs with no gap or repeat, seals back to back, and `vanthu evidence verify` passes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from devstack.stack import StackOptions, start_stack
from staff_http import http, wait_until

pytestmark = pytest.mark.e2e

SENDERS = ("000.00.00.H56", "000.01.00.H56", "000.12.00.H56")
DOCUMENTS = 12
OPERATOR = "vanhanh"


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("evidence-replicas")
    # Small batches: many seals, so the replicas' sealers meet on the same first seq.
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, mongodb_url=mongodb_url, replicas=2,
                                              database_prefix=f"evr{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5,
                                              extra_env={"EVIDENCE_SEAL_ENTRIES": "5", "EVIDENCE_SEAL_SECONDS": "1"}))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake")}
    urls["axis"] = stack.env["AXIS_URL"]
    http.use_keys(stack.env["AUTH_KEYS_DIR"])
    yield stack, urls
    stack.stop_all()




def get(url: str, as_: str | None = None):
    response = http.get(url, as_=as_, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response.json()


def send_one(urls, sender: str, i: int) -> str:
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{sender}/send", json={"subject": f"Văn bản lưu vết số {i}"},
                          timeout=300)
    assert response.status_code == 200, response.text
    return response.json()["documents"][0]["document_id"]


def test_two_gateways_keep_one_gap_free_sealed_log(replicated):
    stack, urls = replicated
    with ThreadPoolExecutor(6) as pool:
        sent = list(pool.map(lambda i: send_one(urls, SENDERS[i % len(SENDERS)], i), range(DOCUMENTS)))

    def registered():
        docs = get(f"{urls['intake']}/documents?limit=500")
        return [d for d in docs if d["response_for"]["document_id"] in sent and d["state"] == "registered"]

    wait_until(registered, lambda docs: len(docs) == DOCUMENTS, timeout=600, what="every document registered")

    def log():
        return get(f"{urls['gateway']}/evidence?limit=1000", as_=OPERATOR)

    # per document: the package received, 01 and 03 sent back
    page = wait_until(log, lambda p: len(p["entries"]) >= 3 * DOCUMENTS and p["unsealed"] == 0, timeout=300,
                      what="every entry chained and sealed")
    entries = page["entries"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    per_document = Counter((e["document_id"], e["direction"], e["status_code"]) for e in entries if e["document_id"] in sent)
    assert per_document == Counter({(d, direction, code): 1 for d in sent
                                    for direction, code in (("received", None), ("sent", "01"), ("sent", "03"))})
    assert len({e["ref"].get("package_id") or e["ref"].get("send_id") for e in entries}) == len(entries)
    seals = page["seals"]
    assert seals[0]["seq_from"] == 1 and seals[-1]["seq_to"] == len(entries)
    assert all(b["seq_from"] == a["seq_to"] + 1 for a, b in zip(seals, seals[1:]))

    result = subprocess.run([str(Path(sys.executable).with_name("vanthu")), "evidence", "verify"],
                            env={**stack.env, "COLUMNS": "250"}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
