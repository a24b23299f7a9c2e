"""The fault-injection run (issue 7 items 6 and 7; R-13): a steady load of incoming documents
(simulated agencies sending through the local axis) and outgoing ones (the commune issuing),
faults injected one after another at random moments (seeded), then the books are checked:
every document registered or issued exactly once, every sender told, numbering gap-free,
nothing unexplained among the dead letters. Recovery times are printed, never asserted."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
import pymongo

from devstack.processes import Stack, port_open
from devstack.stack import AGENCIES_FILE, StackOptions, start_stack, token_setup
from localtsa.server import ensure_keys as tsa_keys
from shared.config import REPO_ROOT
from shared.pdfdocs import DocumentText, render_document
from staff_http import StaffHttp
from tests.resilience.broker import OwnBroker

HOANG_DUC, HOANG_HA = "000.24.26.H56", "000.25.26.H56"
AGENCIES = ("000.01.00.H56", "000.12.00.H56", "000.00.00.H56")  # simulated senders and recipients
WORK_SERVICES = ("gateway", "intake", "dispatch", "signing", "archive", "portal")
SECOND_COMMUNE_ENV = {
    "AGENCY_ID": HOANG_HA, "AGENCY_NAME": "UBND xã Hoằng Hà", "AGENCY_FULL_NAME": "Ủy ban nhân dân xã Hoằng Hà",
    "AGENCY_PLACE": "Hoằng Hà", "AXIS_SYSTEM_ID": f"vanthu.{HOANG_HA}", "AXIS_SECRET": "dev-secret-hoang-ha",
}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


# ---- the systems ------------------------------------------------------------------------------


@dataclass
class Commune:
    code: str
    stack: Stack
    vhost: str
    staff: StaffHttp

    def url(self, name: str) -> str:
        return self.stack.env[f"{name.upper()}_URL"]

    @property
    def prefix(self) -> str:
        return self.stack.env["DATABASE_PREFIX"]

    def db(self, client: pymongo.MongoClient, service: str):
        return client[f"{self.prefix}_{service}"]

    def services(self) -> list:
        return [p for p in self.stack.processes.values() if p.name.split("-")[0] in WORK_SERVICES]


def write_variant_files(folder: Path) -> tuple[Path, Path]:
    """The agencies file with Hoằng Hà a real participant, and Hoằng Hà's own directory."""
    folder.mkdir(parents=True, exist_ok=True)
    agencies = json.loads(AGENCIES_FILE.read_text(encoding="utf-8"))
    for agency in agencies["agencies"]:
        if agency["code"] == HOANG_HA:
            agency.update(simulated=False, systemid=SECOND_COMMUNE_ENV["AXIS_SYSTEM_ID"], secret=SECOND_COMMUNE_ENV["AXIS_SECRET"])
    agencies_file = folder / "agencies.json"
    agencies_file.write_text(json.dumps(agencies, ensure_ascii=False), encoding="utf-8")
    directory = json.loads((REPO_ROOT / "deploy" / "directory.json").read_text(encoding="utf-8"))
    directory["self"] = HOANG_HA
    directory_file = folder / "directory-hoang-ha.json"
    directory_file.write_text(json.dumps(directory, ensure_ascii=False), encoding="utf-8")
    return agencies_file, directory_file


def start_communes(base: Path, broker: OwnBroker, *, replicas: int, second: bool) -> list[Commune]:
    """Hoằng Đức with its own store, TSA and axis; Hoằng Hà (when `second`) on the same axis,
    store (own prefix) and TSA, with its own token, PKI, keys and vhost. Each trusts the other's CA."""
    tag = uuid.uuid4().hex[:6]
    var_a, var_b = base / "hoang-duc", base / "hoang-ha"
    agencies_file, directory_file = write_variant_files(base / "config")
    extra_a: list[Path] = []
    if second:
        # Hoằng Hà's token and CA exist before Hoằng Đức starts, so Hoằng Đức can trust it.
        token_setup(var_b, {**os.environ, "SOFTHSM2_CONF": str(var_b / "token" / "softhsm2.conf"),
                            "TOKEN_CONFIG_DIR": str(var_b / "token")})
        extra_a.append(var_b / "token" / "pki" / "ca.crt.pem")
    vhost_a = f"res-a-{tag}"
    stack_a = start_stack(StackOptions.isolated(
        var_a, amqp_url=broker.add_vhost(vhost_a), database_prefix=f"resa{tag}", axis_poll_interval=0.5,
        agencies_file=agencies_file, extra_trust_roots=extra_a, replicas=replicas))
    communes = [Commune(HOANG_DUC, stack_a, vhost_a, StaffHttp(Path(stack_a.env["AUTH_KEYS_DIR"])))]
    if second:
        tsa_keys(var_a / "tsa")
        vhost_b = f"res-b-{tag}"
        try:
            stack_b = start_stack(StackOptions.isolated(
                var_b, amqp_url=broker.add_vhost(vhost_b), mongodb_url=stack_a.env["MONGODB_URL"],
                database_prefix=f"resb{tag}", axis_poll_interval=0.5, axis_url=stack_a.env["AXIS_URL"], with_tsa=False,
                extra_trust_roots=[var_a / "axis" / "pki" / "trust-roots.pem", var_a / "token" / "pki" / "ca.crt.pem",
                                   var_a / "tsa" / "ca.crt.pem"],
                extra_env={**SECOND_COMMUNE_ENV, "DIRECTORY_FILE": str(directory_file), "TSA_URL": stack_a.env["TSA_URL"]},
                replicas=replicas))
        except BaseException:
            stack_a.stop_all()
            raise
        communes.append(Commune(HOANG_HA, stack_b, vhost_b, StaffHttp(Path(stack_b.env["AUTH_KEYS_DIR"]))))
    return communes


# ---- the load ---------------------------------------------------------------------------------


@dataclass
class Sent:
    kind: str  # "incoming" (an agency to a commune), "outgoing" (a commune issuing)
    sender: str
    recipient: str
    at: float
    document_id: str | None = None  # incoming: the envelope's DocumentId
    subject: str | None = None  # outgoing: unique subject; the record is found by it
    key: str | None = None  # outgoing: dispatch's key when the POST answered 202
    certain: bool = True  # False: the POST failed in a way that leaves it unknown whether it was taken


class Load:
    """Steady senders in background threads; documents recorded with the moment they were sent."""

    def __init__(self, communes: list[Commune], *, incoming: int, outgoing: int, exchange: int, period: float,
                 rng: random.Random) -> None:
        self.communes = communes
        self.axis = communes[0].stack.env["AXIS_URL"]
        self.targets = {"incoming": incoming, "outgoing": outgoing, "exchange": exchange if len(communes) > 1 else 0}
        self.period = period
        self.rng = random.Random(rng.random())
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.run_id = uuid.uuid4().hex[:6]
        self.threads: list[threading.Thread] = []
        self.errors: Counter[str] = Counter()

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._incoming, daemon=True, name="load-incoming"),
                        threading.Thread(target=self._outgoing, daemon=True, name="load-outgoing")]
        for thread in self.threads:
            thread.start()

    def finish(self, timeout: float = 600) -> None:
        """Let the senders reach their counts (documents sent after the faults still count)."""
        for thread in self.threads:
            thread.join(timeout)

    def _record(self, item: Sent) -> None:
        with self.lock:
            self.sent.append(item)

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for s in self.sent if s.kind == kind)

    def agency_send(self, sender: str, to: str, subject: str) -> str | None:
        """One document from a simulated agency; retried while the axis is away (a refused
        connection sent nothing). None after a broken answer: whether it was taken is unknown."""
        for _ in range(600):
            try:
                response = httpx.post(f"{self.axis}/_sim/agencies/{sender}/send", json={"to": to, "subject": subject}, timeout=60)
            except httpx.ConnectError:
                time.sleep(1)
                continue
            except httpx.HTTPError as exc:
                self.errors[f"agency send: {type(exc).__name__}"] += 1
                return None
            if response.status_code == 200:
                return response.json()["documents"][0]["document_id"]
            self.errors[f"agency send: HTTP {response.status_code}"] += 1
            time.sleep(1)
        return None

    def _incoming(self) -> None:
        n = 0
        while n < self.targets["incoming"]:
            sender = AGENCIES[n % len(AGENCIES)]
            # a few go to the second commune, which must register them too
            to = HOANG_HA if len(self.communes) > 1 and n % 10 == 9 else HOANG_DUC
            at = time.monotonic()
            document_id = self.agency_send(sender, to, f"Văn bản đến kiểm thử chịu lỗi {self.run_id}-{n}")
            if document_id:
                self._record(Sent("incoming", sender, to, at, document_id=document_id))
            n += 1
            self.stop.wait(self.period * self.rng.uniform(0.5, 1.5))

    def issue(self, commune: Commune, recipient: str, subject: str) -> Sent:
        pdf = render_document(DocumentText(type_name="CÔNG VĂN", subject=subject, number_notation="Số:      /UBND-VP"),
                              number_fields=True).pdf
        item = Sent("outgoing", commune.code, recipient, time.monotonic(), subject=subject)
        url = f"{commune.url('dispatch')}/outgoing"
        data = {"type_name": "Công văn", "subject": subject, "recipients": recipient, "signer_full_name": "Lê Văn Minh"}
        for _ in range(600):
            try:
                response = commune.staff.post(url, files={"file": ("cv.pdf", pdf, "application/pdf")}, data=data, timeout=60)
            except httpx.ConnectError:  # dispatch down: nothing reached it, send again
                time.sleep(1)
                continue
            except httpx.HTTPError as exc:
                self.errors[f"POST /outgoing: {type(exc).__name__}"] += 1
                item.certain = False
                return item
            if response.status_code == 202:
                item.key = response.json()["id"]
                if not self.approve(commune, item.key):
                    item.certain = False
                return item
            self.errors[f"POST /outgoing: HTTP {response.status_code}"] += 1
            item.certain = False  # e.g. 500 while the store was away: maybe stored, maybe not
            return item
        item.certain = False
        return item

    def approve(self, commune: Commune, key: str) -> bool:
        """The chairman's own approval (R-7.1, R-8.2), asked again until it is answered: the same
        approval twice is answered the same, so a retry after a lost answer is safe."""
        url = f"{commune.url('dispatch')}/outgoing/{key}/approve"
        for _ in range(600):
            try:
                response = commune.staff.post(url, json={"by": "chutich"}, timeout=60)
            except httpx.HTTPError:  # dispatch or the store down: ask again
                time.sleep(1)
                continue
            if response.status_code == 202:
                return True
            if response.status_code < 500:
                self.errors[f"POST /outgoing/…/approve: HTTP {response.status_code}"] += 1
                return False
            time.sleep(1)
        return False

    def _outgoing(self) -> None:
        a = self.communes[0]
        n, exchanged = 0, 0
        per_exchange = max(1, self.targets["outgoing"] // max(1, self.targets["exchange"]))
        while n < self.targets["outgoing"] or exchanged < self.targets["exchange"]:
            if exchanged < self.targets["exchange"] and (n % per_exchange == per_exchange - 1 or n >= self.targets["outgoing"]):
                b = self.communes[1]
                # the two communes send each other one document each
                self._record(self.issue(a, HOANG_HA, f"Công văn Hoằng Đức gửi Hoằng Hà {self.run_id}-{exchanged}"))
                self._record(self.issue(b, HOANG_DUC, f"Công văn Hoằng Hà gửi Hoằng Đức {self.run_id}-{exchanged}"))
                exchanged += 1
            if n < self.targets["outgoing"]:
                recipient = AGENCIES[n % len(AGENCIES)]
                self._record(self.issue(a, recipient, f"Công văn đi kiểm thử chịu lỗi {self.run_id}-{n}"))
                n += 1
            self.stop.wait(2 * self.period * self.rng.uniform(0.5, 1.5))


# ---- the faults -------------------------------------------------------------------------------


@dataclass
class Injection:
    fault: str
    started: float
    ended: float = 0.0
    recovered_after: float | None = None
    notes: list[str] = field(default_factory=list)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (httpx.HTTPError, pymongo.errors.PyMongoError, OSError):
            pass
        time.sleep(interval)
    return False


def all_ready(communes: list[Commune]) -> bool:
    for commune in communes:
        for proc in commune.services():
            if not proc.alive or httpx.get(proc.ready_url, timeout=3).status_code != 200:
                return False
    return True


class Faults:
    """Each fault: inject, hold for `outage` seconds, end; then measure how long until the
    system is whole again (every process ready and the work the fault held up done)."""

    def __init__(self, communes: list[Commune], broker: OwnBroker, load: Load, *, outage: float, rng: random.Random) -> None:
        self.communes = communes
        self.a = communes[0]
        self.broker = broker
        self.load = load
        self.outage = outage
        self.rng = rng
        self.injections: list[Injection] = []
        self.mongo = pymongo.MongoClient(self.a.stack.env["MONGODB_URL"], serverSelectionTimeoutMS=3000)

    # the catalogue ---------------------------------------------------------------------------

    def catalogue(self, *, replicas: int) -> dict[str, Callable[[Injection], None]]:
        faults: dict[str, Callable[[Injection], None]] = {}
        if replicas > 1:
            # both gateways (two pollers), the first replica of the numbering services, the second
            # of the others, and both intakes at once (the work waits in the queue)
            for name in ("gateway", "gateway-2", "intake", "dispatch", "signing-2", "archive-2", "portal-2"):
                faults[f"SIGKILL {name}"] = lambda inj, name=name: self._kill(inj, self.a, name)
            faults["SIGKILL intake + intake-2"] = lambda inj: self._kill(inj, self.a, "intake", "intake-2")
            return faults
        for proc in self.a.services():
            faults[f"SIGKILL {proc.name}"] = lambda inj, name=proc.name: self._kill(inj, self.a, name)
        if len(self.communes) > 1:
            faults[f"SIGKILL {self.communes[1].code} intake"] = lambda inj: self._kill(inj, self.communes[1], "intake")
        faults["restart RabbitMQ"] = self._broker
        if "store" in self.a.stack.processes:  # not when MONGODB_URL names a store outside the stack
            faults["restart the store"] = self._store
        faults["token pulled"] = self._token
        faults["TSA unavailable"] = self._tsa
        faults["axis unavailable"] = self._axis_cut
        faults["axis killed"] = self._axis_kill
        return faults

    def run(self, catalogue: dict[str, Callable[[Injection], None]], rounds: int) -> None:
        order = [name for _ in range(rounds) for name in catalogue]
        self.rng.shuffle(order)
        for name in order:
            time.sleep(self.rng.uniform(0.5, 4.0))  # a random moment in the load
            injection = Injection(name, time.monotonic())
            self.injections.append(injection)
            print(f"  [{time.strftime('%H:%M:%S')}] inject {name}", flush=True)
            catalogue[name](injection)
            if not injection.ended:
                injection.ended = time.monotonic()
            injection.recovered_after = self._recovery(injection)
            print(f"  [{time.strftime('%H:%M:%S')}]   recovered after "
                  f"{'—' if injection.recovered_after is None else f'{injection.recovered_after:.1f} s'}"
                  f"{(' (' + '; '.join(injection.notes) + ')') if injection.notes else ''}", flush=True)

    # measuring recovery ----------------------------------------------------------------------

    def _recovery(self, injection: Injection, timeout: float = 420) -> float | None:
        """Seconds from the fault's end until every process is ready and a document sent after
        it is registered (the incoming path works again); after a signing fault, also until every
        outgoing document created before the end is issued (the signature backlog drained)."""
        if not wait_for(lambda: all_ready(self.communes), timeout):
            injection.notes.append("not ready")
            return None
        probe = self.load.agency_send(AGENCIES[0], HOANG_DUC, f"Văn bản thăm dò sau lỗi {injection.fault}")
        if probe:
            self.load._record(Sent("incoming", AGENCIES[0], HOANG_DUC, time.monotonic(), document_id=probe))
            intake = self.a.db(self.mongo, "intake")["documents"]
            if not wait_for(lambda: intake.count_documents({"response_for.document_id": probe, "state": "registered"}) == 1,
                            timeout, interval=0.5):
                injection.notes.append("probe not registered")
                return None
        if injection.fault in ("token pulled", "TSA unavailable", "SIGKILL signing"):
            outgoing = self.a.db(self.mongo, "dispatch")["outgoing"]
            created_before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.monotonic() - injection.ended)
            if not wait_for(lambda: outgoing.count_documents({"created_at": {"$lt": created_before},
                                                              "state": {"$nin": ["issued", "signature_refused", "cancelled"]}}) == 0,
                            timeout, interval=1.0):
                injection.notes.append("signature backlog not drained")
                return None
        return time.monotonic() - injection.ended

    # the faults themselves -------------------------------------------------------------------

    def _kill(self, injection: Injection, commune: Commune, *names: str) -> None:
        procs = [commune.stack.processes[name] for name in names]
        for proc in procs:
            proc.kill(signal.SIGKILL)
        injection.ended = time.monotonic()  # the restart follows at once, as a supervisor would
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(240)

    def _broker(self, injection: Injection) -> None:
        self.broker.stop_app()
        time.sleep(self.outage)
        self.broker.start_app()
        injection.ended = time.monotonic()

    def _store(self, injection: Injection) -> None:
        store = self.a.stack.processes["store"]
        store.kill(signal.SIGKILL)
        time.sleep(self.outage)
        store.start()  # same port, same data directory
        port = int(self.a.stack.env["MONGODB_URL"].rsplit(":", 1)[1].strip("/"))
        if not wait_for(lambda: port_open("127.0.0.1", port), 120, 0.2):
            raise RuntimeError(f"store did not come back; {store.tail()}")
        injection.ended = time.monotonic()

    def _token(self, injection: Injection) -> None:
        """A pulled USB token: the PKCS#11 module finds no token any more. Modelled by the
        SoftHSM2 token directory moved away while signing restarts (a running process keeps
        SoftHSM2's objects in memory, as a driver would keep a dead handle: the restart is what
        makes the absence visible). Signing must come up saying so and keep the requests."""
        signing = self.a.stack.processes["signing"]
        tokens = Path(self.a.stack.env["TOKEN_CONFIG_DIR"]) / "tokens"
        pulled = tokens.with_name("tokens.pulled")
        signing.kill(signal.SIGKILL)
        tokens.rename(pulled)
        try:
            signing.start()
            signing.wait_ready(180, need_ready=False)
            ready = httpx.get(signing.ready_url, timeout=10)
            keys = self.a.staff.get(f"{self.a.url('signing')}/keys", timeout=10)
            injection.notes.append(f"readyz {ready.status_code} token={ready.json().get('token')}, /keys {keys.status_code}")
            self.token_answers = (ready.status_code, ready.json().get("token"), keys.status_code, keys.text)
            time.sleep(self.outage)
        finally:
            pulled.rename(tokens)
        injection.ended = time.monotonic()

    def _tsa(self, injection: Injection) -> None:
        tsa = self.a.stack.env["TSA_URL"].rstrip("/")
        httpx.post(f"{tsa}/_control", json={"available": False}, timeout=10).raise_for_status()
        time.sleep(self.outage)
        httpx.post(f"{tsa}/_control", json={"available": True}, timeout=10).raise_for_status()
        injection.ended = time.monotonic()

    def _axis_cut(self, injection: Injection) -> None:
        axis = self.a.stack.env["AXIS_URL"]
        httpx.post(f"{axis}/_control/faults", json={"unavailable": True}, timeout=10).raise_for_status()
        time.sleep(self.outage)
        httpx.post(f"{axis}/_control/faults", json={}, timeout=10).raise_for_status()
        injection.ended = time.monotonic()

    def _axis_kill(self, injection: Injection) -> None:
        axis = self.a.stack.processes["axis"]
        axis.kill(signal.SIGKILL)
        time.sleep(self.outage)
        axis.start()
        axis.wait_ready(120)
        injection.ended = time.monotonic()


# ---- the books --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Per document: how many times it was found registered/issued and delivered (1 = right)."""

    item: Sent
    found: int = 0
    problems: list[str] = field(default_factory=list)
    # Not a loss or a double registration: a status package sent again because the gateway died
    # between the axis's acceptance and its own commit (at-least-once on the wire; the sender
    # already has that status, nothing changes). Printed, counted, never hidden.
    repeated_statuses: list[str] = field(default_factory=list)


def gaps_and_repeats(numbers: list[int]) -> tuple[list[int], list[int]]:
    counts = Counter(numbers)
    repeats = sorted(n for n, c in counts.items() if c > 1)
    gaps = sorted(set(range(1, max(numbers, default=0) + 1)) - set(counts))
    return gaps, repeats


class Books:
    def __init__(self, communes: list[Commune], broker: OwnBroker) -> None:
        self.communes = {c.code: c for c in communes}
        self.broker = broker
        self.axis = communes[0].stack.env["AXIS_URL"]
        self.mongo = pymongo.MongoClient(communes[0].stack.env["MONGODB_URL"], serverSelectionTimeoutMS=10000)

    def _axis(self, path: str) -> list[dict]:
        return httpx.get(f"{self.axis}{path}", timeout=30).json()

    def check(self, sent: list[Sent]) -> list[Outcome]:
        outcomes = [Outcome(item) for item in sent]
        statuses = {code: self._axis(f"/_sim/agencies/{code}/statuses") for code in AGENCIES}
        inboxes = {code: self._axis(f"/_sim/agencies/{code}/inbox") for code in AGENCIES}
        for outcome in outcomes:
            item = outcome.item
            if item.kind == "incoming":
                self._incoming(outcome, statuses)
            else:
                self._outgoing(outcome, inboxes)
        return outcomes

    def _intake_docs(self, commune: str, document_id: str) -> list[dict]:
        return list(self.communes[commune].db(self.mongo, "intake")["documents"].find({"response_for.document_id": document_id}))

    def _incoming(self, outcome: Outcome, statuses: dict[str, list[dict]]) -> None:
        item = outcome.item
        docs = self._intake_docs(item.recipient, item.document_id)
        outcome.found = sum(d["state"] == "registered" for d in docs)
        if len(docs) != outcome.found:
            outcome.problems.append(f"states {[d['state'] for d in docs]}")
        if item.sender in statuses:  # the simulated sender's view of its statuses
            codes = sorted(s["status_code"] for s in statuses[item.sender] if s["response_for_document_id"] == item.document_id)
            if sorted(set(codes)) != ["01", "03"]:
                outcome.problems.append(f"sender saw statuses {codes}")
            elif len(codes) != 2:
                outcome.repeated_statuses = codes

    def _outgoing(self, outcome: Outcome, inboxes: dict[str, list[dict]]) -> None:
        item = outcome.item
        sender = self.communes[item.sender]
        records = list(sender.db(self.mongo, "dispatch")["outgoing"].find({"subject": item.subject}))
        issued = [r for r in records if r["state"] == "issued"]
        if len(records) != len(issued):
            outcome.problems.append(f"states {[r['state'] for r in records]}")
        if not issued:
            outcome.found = 0
            return
        record = issued[0]
        document_id = record.get("document_id")
        if item.recipient in inboxes:  # a simulated agency: its inbox has it once
            received = sum(r["document_id"] == document_id for r in inboxes[item.recipient])
        else:  # the other commune: registered there once
            received = sum(d["state"] == "registered" for d in self._intake_docs(item.recipient, document_id))
        # lost: the recipient never got it; duplicated: issued twice, or received twice
        outcome.found = 0 if received == 0 else max(len(issued), received)
        deliveries = [d for d in record.get("deliveries", []) if d["organ_id"] == item.recipient]
        codes = sorted({s["code"] for d in deliveries for s in d.get("business_statuses", [])})
        if codes != ["01", "03"] or len(deliveries) != 1:
            outcome.problems.append(f"{len(deliveries)} deliveries, statuses back {codes}")

    def numbering(self) -> dict[str, tuple[int, list[int], list[int]]]:
        """Register numbers per commune and book: (count, gaps, repeats) — R-6.3, R-7.2b."""
        year = dt.date.today().year
        books = {}
        for code, commune in self.communes.items():
            for service in ("intake", "dispatch"):
                collection = "documents" if service == "intake" else "outgoing"
                rows = commune.db(self.mongo, service)[collection].find({"register.year": year}, {"register.number": 1})
                numbers = [r["register"]["number"] for r in rows]
                books[f"{code} {service}"] = (len(numbers), *gaps_and_repeats(numbers))
        return books

    def duplicate_packages(self) -> dict[str, int]:
        """The axis poller took no package twice (two gateway replicas polling): axis ids in `packages`."""
        result = {}
        for code, commune in self.communes.items():
            rows = commune.db(self.mongo, "gateway")["packages"].aggregate([
                {"$group": {"_id": "$axis_doc_id", "n": {"$sum": 1}}}, {"$match": {"n": {"$gt": 1}}}])
            result[code] = len(list(rows))
        return result

    def dead_letters(self) -> tuple[dict[str, int], list[dict]]:
        """Messages in any *.dlq, and open entries of the dead-letter keeper's collections."""
        queued = {}
        for commune in self.communes.values():
            for queue in self.broker.queues(commune.vhost):
                if queue["name"].endswith(".dlq") and queue.get("messages", 0):
                    queued[f"{commune.vhost}/{queue['name']}"] = queue["messages"]
        kept = []
        for code, commune in self.communes.items():
            for service in WORK_SERVICES:
                db = commune.db(self.mongo, service)
                if "dead_letters" in db.list_collection_names():
                    kept += [{"commune": code, "service": service, **{k: row.get(k) for k in ("queue", "reason", "state")}}
                             for row in db["dead_letters"].find({"state": "open"})]
        return queued, kept

    def consumed_per_process(self) -> dict[str, int]:
        """Messages each process handled since it last started (`vanthu_bus_consumed_total`, ok):
        with replicas, both of a pair take work (competing consumers)."""
        counts = {}
        for commune in self.communes.values():
            for proc in commune.services():
                try:
                    text = httpx.get(proc.ready_url.replace("/readyz", "/metrics"), timeout=10).text
                except httpx.HTTPError:
                    continue
                counts[proc.name] = int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                            if line.startswith("vanthu_bus_consumed_total{") and 'outcome="ok"' in line))
        return counts

    def settled(self, sent: list[Sent]) -> bool:
        return all(o.found >= 1 and not o.problems for o in self.check(sent) if o.item.certain)


# ---- the table --------------------------------------------------------------------------------


AFTER = "(after the faults)"


def table(injections: list[Injection], outcomes: list[Outcome]) -> str:
    """fault | injected | sent | lost | duplicated | recovered after (s): each document counted
    under the last fault injected before it was sent (or after the last one had recovered)."""
    starts = sorted((inj.started, inj.fault) for inj in injections)
    if injections:
        last = max(injections, key=lambda inj: inj.started)
        starts.append((last.ended + (last.recovered_after or 0.0), AFTER))
    rows: dict[str, dict] = defaultdict(lambda: {"injected": 0, "sent": 0, "lost": 0, "dup": 0, "uncertain": 0, "rec": []})
    for inj in injections:
        rows[inj.fault]["injected"] += 1
        if inj.recovered_after is not None:
            rows[inj.fault]["rec"].append(inj.recovered_after)
    for outcome in outcomes:
        fault = "(before any fault)"
        for started, name in starts:
            if started <= outcome.item.at:
                fault = name
        row = rows[fault]
        row["sent"] += 1
        if not outcome.item.certain:
            row["uncertain"] += 1
            row["dup"] += outcome.found > 1
        else:
            row["lost"] += outcome.found == 0
            row["dup"] += outcome.found > 1
    lines = [f"{'fault':<34} {'injected':>8} {'sent':>5} {'lost':>5} {'dup':>5} {'unsure':>6} {'recovered after s':>18}"]
    for fault, row in sorted(rows.items(), key=lambda kv: (kv[0] != "(before any fault)", kv[0] == AFTER, kv[0])):
        rec = ", ".join(f"{r:.1f}" for r in row["rec"]) or ("—" if row["injected"] else "")
        lines.append(f"{fault:<34} {row['injected']:>8} {row['sent']:>5} {row['lost']:>5} {row['dup']:>5} {row['uncertain']:>6} {rec:>18}")
    total = [sum(r[k] for r in rows.values()) for k in ("injected", "sent", "lost", "dup", "uncertain")]
    lines.append(f"{'total':<34} {total[0]:>8} {total[1]:>5} {total[2]:>5} {total[3]:>5} {total[4]:>6}")
    return "\n".join(lines)


def cleanup_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
