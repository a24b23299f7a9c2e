"""The hostile-input corpus sent the real way, one case at a time, with a table of what each
answer was (issue 7 item 8). Re-run it with `.venv/bin/python -m tests.hostile.report` (starts
its own whole system) or through `pytest tests/hostile/test_corpus.py -s`.

Channels: `axis` — a simulated agency sends the package over VXP (the axis checks it and may
refuse at once, with its error code); `axis-raw` — the axis hands the bytes on unchecked, so the
commune's gateway and intake meet them (the answer is status 02 at the sender); the HTTP routes
that take PDFs, called as the member of staff who uses them. For each answer: the reason, the
growth of the peak memory (VmHWM) of the processes that read it, and the seconds it took."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # `python -m tests.hostile.report`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.edxml import (  # noqa: E402
    Attachment,
    Business,
    Code,
    DocumentType,
    EdocPackage,
    Organization,
    OtherInfo,
    PromulgationInfo,
    SignerInfo,
    build_edoc,
)
from shared.pdfdocs import DocumentText, render_document  # noqa: E402
from shared.vxp import signed_headers  # noqa: E402
from staff_http import http  # noqa: E402
from tests.hostile.corpus import Case, pdf_cases, sign, with_leader_field, xml_cases  # noqa: E402

SENDER = Organization(organ_id="000.12.00.H56", organ_name="Sở Nội vụ tỉnh Thanh Hóa")
SYSTEM_ID, SECRET = "sim.000.12.00.H56", "sim-secret-so-noi-vu"
COMMUNE = "000.24.26.H56"
ANSWER_SECONDS = 60.0  # a guard against hangs, not a timing target
RSS_BOUND_MB = 300
# The commune's processes that read the input (the local axis stands in for the national one).
WATCH = {"axis": ("gateway", "intake"), "axis-raw": ("gateway", "intake"), "dispatch /outgoing": ("dispatch",),
         "dispatch /drafts": ("dispatch",), "intake /digitisations": ("intake",), "archive materials": ("archive",)}
SIGNATURE_CASES = {"pdf-cms-over-other-bytes", "pdf-changed-after-signing", "pdf-self-signed"}
PDF_CHANNELS = ("axis-raw", "dispatch /outgoing", "dispatch /drafts", "intake /digitisations", "archive materials")


@dataclass
class Row:
    case: str
    channel: str
    expected: str
    got: str
    reason: str
    rss_mb: float
    seconds: float
    note: str = ""

    @property
    def refused_with_reason(self) -> bool:
        return self.got.startswith("refused") and bool(self.reason.strip())

    @property
    def reason_as_expected(self) -> bool:
        return any(fragment in self.reason.lower() for fragment in self.expected.split(" | "))


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Runner:
    def __init__(self, stack, urls: dict[str, str], workdir: Path) -> None:
        self.stack, self.urls, self.workdir = stack, urls, workdir
        self.counter = int(time.time())
        self.dossier: str | None = None

    # --- sending ------------------------------------------------------------------------

    def package(self, pdf: bytes | None = None, attachments: list[tuple[str, str, bytes]] | None = None) -> tuple[str, bytes]:
        self.counter += 1
        code = Code(code_number=str(self.counter), code_notation="SNV-HOSTILE")
        issued = dt.date.today()
        files = attachments or [("van-ban.pdf", "application/pdf", pdf or b"")]
        package = EdocPackage(
            sender=SENDER, recipients=[Organization(organ_id=COMMUNE, organ_name="UBND xã Hoằng Đức")],
            document_id=EdocPackage.make_document_id(SENDER.organ_id, issued, code), code=code,
            promulgation_info=PromulgationInfo(place="Thanh Hóa", promulgation_date=issued),
            document_type=DocumentType(type=1, type_name="Công văn"), subject="Về việc kiểm thử dữ liệu độc hại",
            signer_info=SignerInfo(position="Giám đốc", full_name="Trần Thị Lan"), other_info=OtherInfo(page_amount=1),
            business=Business(),
            attachments=[Attachment(content_id=f"cid:{i}", attachment_name=name, content_type=kind, content=data)
                         for i, (name, kind, data) in enumerate(files, 1)])
        return package.document_id, build_edoc(package)

    def _answer(self, document_id: str, deadline: float) -> tuple[str, str]:
        while time.monotonic() < deadline:
            rows = httpx.get(f"{self.urls['axis']}/_sim/agencies/{SENDER.organ_id}/statuses", timeout=30).json()
            mine = [r for r in rows if r["response_for_document_id"] == document_id]
            if refusal := next((r for r in mine if r["status_code"] == "02"), None):
                return "refused (02)", refusal.get("description") or ""
            if any(r["status_code"] == "03" for r in mine):
                return "ACCEPTED (03)", ""
            time.sleep(1.0)
        return "NO ANSWER", ""

    def via_axis(self, case: Case) -> tuple[str, str]:
        params = {"from": SENDER.organ_id, "to": json.dumps([COMMUNE]), "servicetype": "eDoc", "messagetype": "edoc",
                  "hash-file": hashlib.sha256(case.data).hexdigest()}
        headers = {**signed_headers(params, system_id=SYSTEM_ID, secret=SECRET), "Content-Type": "application/octet-stream"}
        started = time.monotonic()
        response = httpx.post(f"{self.urls['axis']}/sendEdoc", headers=headers, content=case.data, timeout=ANSWER_SECONDS)
        if response.status_code >= 500:
            return f"CRASH ({response.status_code})", response.text[:300]
        answer = response.json()
        if answer.get("status") != "OK":
            return f"refused (axis {answer.get('ErrorCode')})", answer.get("ErrorDesc") or ""
        return self._answer(case.extra["document_id"], started + ANSWER_SECONDS)

    def via_raw(self, case: Case) -> tuple[str, str]:
        started = time.monotonic()
        response = httpx.post(f"{self.urls['axis']}/_sim/agencies/{SENDER.organ_id}/send-raw", params={"to": COMMUNE},
                              content=case.data, timeout=ANSWER_SECONDS)
        response.raise_for_status()
        return self._answer(case.extra["document_id"], started + ANSWER_SECONDS)

    def via_http(self, channel: str, pdf: bytes) -> tuple[str, str]:
        files = {"file": ("van-ban.pdf", pdf, "application/pdf")}
        if channel == "dispatch /outgoing":
            response = http.post(f"{self.urls['dispatch']}/outgoing", as_="vanthu", files=files, timeout=ANSWER_SECONDS, data={
                "type_name": "Công văn", "subject": "Về việc kiểm thử", "recipients": SENDER.organ_id,
                "signer_full_name": "Lê Văn Thành"})
        elif channel == "dispatch /drafts":
            response = http.post(f"{self.urls['dispatch']}/drafts", as_="cc.vanphong", files=files, timeout=ANSWER_SECONDS,
                                 data={"type_name": "Công văn", "subject": "Về việc kiểm thử", "recipients": SENDER.organ_id})
        elif channel == "intake /digitisations":
            response = http.post(f"{self.urls['intake']}/digitisations", as_="vanthu", timeout=ANSWER_SECONDS,
                                 files={"files": ("ban-quet.pdf", pdf, "application/pdf")},
                                 data={"sender_name": "Công dân Nguyễn Văn A", "code_notation": "ĐƠN",
                                       "issued_date": dt.date.today().isoformat(), "type_name": "Đơn",
                                       "subject": "Đơn đề nghị"})
        else:
            response = http.post(f"{self.urls['archive']}/dossiers/{self.ensure_dossier()}/materials", as_="cc.vanphong",
                                 files=files, data={"title": "Tài liệu kiểm thử"}, timeout=ANSWER_SECONDS)
        if response.status_code >= 500:
            return f"CRASH ({response.status_code})", response.text[:300]
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            return f"refused ({response.status_code})", detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
        return f"ACCEPTED ({response.status_code})", ""

    def ensure_dossier(self) -> str:
        """One open dossier of this year's approved catalogue, for the materials."""
        if self.dossier is None:
            year, archive = dt.date.today().year, self.urls["archive"]
            entry = {"notation": "99.HOSTILE", "title": "Hồ sơ kiểm thử dữ liệu độc hại", "keeper": "cc.vanphong",
                     "retention": "5 năm"}
            http.post(f"{archive}/catalogue/{year}/entries", json={"by": "chutich", "entries": [entry]})
            opened = http.post(f"{archive}/dossiers", json={"by": "cc.vanphong", "year": year, "notation": "99.HOSTILE"})
            assert opened.status_code in (200, 201), opened.text
            self.dossier = opened.json()["code"]
        return self.dossier

    # --- one case, measured ---------------------------------------------------------------

    def run(self, case: Case, channel: str) -> Row:
        pids = [self.stack.processes[name].process.pid for name in WATCH[channel]]
        before = [peak_mb(pid) for pid in pids]
        started = time.monotonic()
        try:
            if channel == "axis":
                got, reason = self.via_axis(case)
            elif channel == "axis-raw":
                got, reason = self.via_raw(case)
            else:
                got, reason = self.via_http(channel, case.extra.get(channel, case.data))
        except httpx.HTTPError as exc:
            got, reason = "CRASH (no answer)", repr(exc)
        seconds = time.monotonic() - started
        alive = all(self.stack.processes[name].alive for name in WATCH[channel])
        growth = max(peak_mb(pid) - b for pid, b in zip(pids, before)) if alive else float("inf")
        if not alive:
            got = "CRASH (process died)"
        return Row(case.name, channel, " | ".join(case.expect), got, reason, growth, seconds, case.note)


def build_corpus(stack, workdir: Path) -> list[Case]:
    from pyhanko.sign.signers import SimpleSigner

    pki = Path(stack.var_dir) / "axis" / "pki" / SENDER.organ_id
    leader, agency = (SimpleSigner.load(str(pki / f"{role}.key.pem"), str(pki / f"{role}.crt.pem"),
                                        ca_chain_files=(str(pki / "ca.crt.pem"),)) for role in ("leader", "agency"))
    document = render_document(DocumentText(subject="Về việc kiểm thử dữ liệu độc hại")).pdf
    pdfs = pdf_cases(document, leader, agency, workdir)
    for case in pdfs:
        case.channels = PDF_CHANNELS
        if case.name in SIGNATURE_CASES:  # kept as given in a dossier: see corpus.pdf_cases
            case.channels = tuple(c for c in PDF_CHANNELS if c != "archive materials")
        # dispatch wants the leader's empty field on an approved document: give it one where the
        # file still opens, so the case meets the check it is about
        try:
            case.extra["dispatch /outgoing"] = with_leader_field(case.data)
        except Exception:  # noqa: BLE001 - unreadable: sent as it is
            pass
    signed = sign(sign(document, leader), agency, "ChuKyCoQuan")
    runner = Runner(stack, {}, workdir)
    limit = _max_package_bytes(stack)
    xmls = xml_cases(lambda **kw: runner.package(pdf=kw.get("pdf", signed), attachments=kw.get("attachments")), signed, limit)
    for case in pdfs:  # the PDF inside a package, as the document (via the commune's own checks)
        case.extra["document_id"], case.extra["package"] = runner.package(pdf=case.data)
    return xmls + pdfs


def _max_package_bytes(stack) -> int | None:
    raw = stack.env.get("MAX_PACKAGE_BYTES")
    if raw:
        return int(raw)
    from shared.config import Settings

    return getattr(Settings(), "max_package_bytes", None)


def run_corpus(stack, urls: dict[str, str], workdir: Path, cases: list[Case] | None = None) -> list[Row]:
    cases = cases if cases is not None else build_corpus(stack, workdir)
    runner = Runner(stack, urls, workdir)
    rows = []
    for case in cases:
        for channel in case.channels:
            if channel == "axis-raw" and "package" in case.extra:
                sent = Case(case.name, case.extra["package"], case.expect, extra=case.extra)
                rows.append(runner.run(sent, channel))
            else:
                rows.append(runner.run(case, channel))
            print(_line(rows[-1]), flush=True)
    return rows


def _line(row: Row) -> str:
    return (f"{row.case:30} {row.channel:22} {row.got:20} {row.rss_mb:7.1f} {row.seconds:6.1f}  "
            f"{row.reason[:150].replace(chr(10), ' ')}")


def counts(rows: list[Row]) -> dict[str, int]:
    return {"cases": len({r.case for r in rows}), "sends": len(rows),
            "refused with reason": sum(r.refused_with_reason for r in rows),
            "reason as expected": sum(r.refused_with_reason and r.reason_as_expected for r in rows),
            "not refused": sum(not r.got.startswith(("refused", "CRASH")) for r in rows),
            "crashes": sum(r.got.startswith("CRASH") for r in rows),
            "over memory bound": sum(r.rss_mb > RSS_BOUND_MB for r in rows),
            "over time bound": sum(r.seconds > ANSWER_SECONDS for r in rows)}


def table(rows: list[Row]) -> str:
    head = f"{'case':30} {'where sent':22} {'got':20} {'ΔRSS MB':>7} {'s':>6}  reason"
    return "\n".join([head, "-" * len(head) * 2, *(_line(r) for r in rows), "",
                      "  ".join(f"{k}: {v}" for k, v in counts(rows).items())])


def main() -> int:
    import subprocess
    import uuid

    from devstack.processes import Stack, free_port, start_embedded_store
    from devstack.stack import StackOptions, start_stack

    with tempfile.TemporaryDirectory(prefix="vanthu-hostile-") as tmp:
        var = Path(tmp)
        vhost = f"vanthu-hostile-{uuid.uuid4().hex[:8]}"
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True, check=True)
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True, check=True)
        store_holder = Stack(var, {})
        port = free_port()
        store = start_embedded_store(store_holder, port, var / "store")
        stack = None
        try:
            stack = start_stack(StackOptions.isolated(var / "system", amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                                                      mongodb_url=f"mongodb://127.0.0.1:{port}/", database_prefix="hostile",
                                                      axis_poll_interval=0.5))
            urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake", "dispatch", "signing", "archive")}
            urls["axis"] = stack.env["AXIS_URL"]
            http.use_keys(stack.env["AUTH_KEYS_DIR"])
            rows = run_corpus(stack, urls, var)
            print()
            print(table(rows))
            summary = counts(rows)
            return 0 if summary["not refused"] == summary["crashes"] == 0 else 1
        finally:
            if stack is not None:
                stack.stop_all()
            store.stop()
            subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
