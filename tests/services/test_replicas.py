"""Scale-out on the real path (issue 7 item 7; R-13, R-6.3, R-7.2b): the whole system with two
processes of every service (competing consumers on the same quorum queues, two axis pollers,
two senders), 40 documents sent at once by simulated agencies and 20 outgoing documents issued
at once. Afterwards every incoming document is registered exactly once and the register has no
gap or repeat, every outgoing document got one number and the numbers have no gap, no axis
package was processed twice although both pollers took part, and both replicas of intake
consumed messages."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from devstack.stack import StackOptions, start_stack
from shared.pdfdocs import DocumentText, render_document
from staff_http import http, wait_until

pytestmark = pytest.mark.e2e

SENDERS = ("000.00.00.H56", "000.01.00.H56", "000.12.00.H56", "000.25.26.H56")
RECIPIENT = "000.01.00.H56"
INCOMING = 40
OUTGOING = 20
SERVICES = ("gateway", "intake", "dispatch", "signing", "archive", "portal")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("replicas")
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, mongodb_url=mongodb_url, replicas=2,
                                              database_prefix=f"rep{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in SERVICES}
    urls["axis"] = stack.env["AXIS_URL"]
    http.use_keys(stack.env["AUTH_KEYS_DIR"])
    yield stack, urls
    stack.stop_all()




def get(url: str):
    response = http.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response.json()


def send_one(urls, sender: str, i: int) -> str:
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{sender}/send",
                          json={"subject": f"Văn bản thử nhân bản số {i}"}, timeout=300)
    assert response.status_code == 200, response.text
    [doc] = response.json()["documents"]
    return doc["document_id"]


def issue_one(urls, i: int) -> str:
    subject = f"Thông báo thử nhân bản số {i}"
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject=subject, number_notation="Số:      /TB-UBND"),
                          number_fields=True).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": (f"tb-{i}.pdf", pdf, "application/pdf")},
                         data={"type_name": "Thông báo", "subject": subject, "recipients": RECIPIENT,
                               "signer_full_name": "Lê Văn Minh"}, timeout=120)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key, timeout=120).status_code == 202  # the leader's own approval
    return key


def metric_total(base_url: str, name: str, **labels: str) -> float:
    """Sum of one counter's samples in a process's /metrics whose labels include `labels`."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? ([0-9.e+-]+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def replica_urls(stack, service: str) -> list[str]:
    procs = [p for n, p in stack.processes.items() if n == service or n.startswith(f"{service}-")]
    return [p.ready_url.removesuffix("/readyz") for p in procs]


def test_two_replicas_of_everything_register_and_number_each_document_once(replicated):
    stack, urls = replicated
    assert all(len(replica_urls(stack, s)) == 2 for s in SERVICES), sorted(stack.processes)
    year = dt.date.today().year

    with ThreadPoolExecutor(max_workers=12) as pool:
        incoming = [pool.submit(send_one, urls, SENDERS[i % len(SENDERS)], i) for i in range(INCOMING)]
        outgoing = [pool.submit(issue_one, urls, i) for i in range(OUTGOING)]
        document_ids = [f.result() for f in incoming]
        keys = [f.result() for f in outgoing]
    assert len(set(document_ids)) == INCOMING and len(set(keys)) == OUTGOING

    # Incoming: each DocumentId registered exactly once, register numbers 1..40.
    def registered():
        docs = get(f"{urls['intake']}/documents?limit=500")
        return [d for d in docs if d.get("response_for", {}).get("document_id") in set(document_ids)]

    docs = wait_until(registered, lambda ds: sum(d["state"] == "registered" for d in ds) >= INCOMING,
                      timeout=900, what=f"{INCOMING} incoming registered")
    per_document = Counter(d["response_for"]["document_id"] for d in docs)
    assert set(per_document) == set(document_ids) and set(per_document.values()) == {1}, per_document.most_common(3)
    assert len({d["package_id"] for d in docs}) == INCOMING
    register = get(f"{urls['intake']}/register/{year}")
    assert sorted(row["register"]["number"] for row in register) == list(range(1, INCOMING + 1))

    # Outgoing: each numbered once, numbers 1..20 with no gap (R-7.2b), and accepted by the axis.
    def outgoing_records():
        return [get(f"{urls['dispatch']}/outgoing/{key}") for key in keys]

    records = wait_until(outgoing_records,
                         lambda rs: all(r["state"] == "issued" and r["deliveries"][0].get("transport_state") == "accepted"
                                        for r in rs),
                         timeout=900, what=f"{OUTGOING} outgoing issued and accepted")
    assert sorted(r["register"]["number"] for r in records) == list(range(1, OUTGOING + 1))
    assert len({r["code"] for r in records}) == OUTGOING

    # Each recipient got each outgoing document once (two senders, one send each).
    inbox = httpx.get(f"{urls['axis']}/_sim/agencies/{RECIPIENT}/inbox", timeout=30).json()
    delivered = Counter(row["document_id"] for row in inbox)
    assert all(delivered[r["document_id"]] == 1 for r in records), delivered.most_common(3)

    # The gateway: both pollers took part and no axis package was kept twice. Wait for the
    # recipients' statuses (01, 03 per outgoing document) so that every package is in.
    packages = wait_until(lambda: get(f"{urls['gateway']}/packages?limit=500"),
                          lambda ps: len(ps) >= INCOMING + 2 * OUTGOING, timeout=300, what="statuses at the gateway")
    axis_ids = Counter(p["axis_doc_id"] for p in packages)
    assert set(axis_ids.values()) == {1}, axis_ids.most_common(3)
    assert len({p["dedup_key"] for p in packages}) == len(packages)
    gateways = replica_urls(stack, "gateway")
    taken = [metric_total(u, "vanthu_gateway_packages_received_total") for u in gateways]
    processed = [sum(metric_total(u, "vanthu_gateway_packages_received_total", outcome=o) for o in ("new", "invalid"))
                 for u in gateways]
    assert all(t > 0 for t in taken), f"a gateway replica never took a package: {taken}"
    # Processed (stored and announced) once in total across both; the rest were seen as duplicates.
    assert sum(processed) == len(packages), (processed, len(packages))

    # Competing consumers: both intake replicas consumed from intake.packages.
    consumed = [metric_total(u, "vanthu_bus_consumed_total", queue="intake.packages") for u in replica_urls(stack, "intake")]
    assert all(c > 0 for c in consumed), f"an intake replica consumed nothing: {consumed}"
    print(f"\nsplit between replicas: gateway taken {taken}, stored {processed}; intake.packages consumed {consumed}")
    assert sum(metric_total(u, "vanthu_bus_consumed_total", queue="intake.packages", outcome="ok")
               for u in replica_urls(stack, "intake")) >= INCOMING
    # The senders' statuses: exactly one 03 (registered) per incoming document.
    def threes() -> Counter:
        counts = Counter()
        for sender in SENDERS:
            for row in httpx.get(f"{urls['axis']}/_sim/agencies/{sender}/statuses", timeout=30).json():
                if row["status_code"] == "03" and row["response_for_document_id"] in per_document:
                    counts[row["response_for_document_id"]] += 1
        return counts

    counts = wait_until(threes, lambda c: len(c) == INCOMING, timeout=300, what="a 03 for every incoming document")
    assert set(counts.values()) == {1}, counts.most_common(3)
