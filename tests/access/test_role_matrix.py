"""Who may call what (R-15.5: no one reaches what their role does not allow), against the whole
started system: for every service, every (method, path) its `/openapi.json` lists is called with
no token (401), with the token of each role (403 exactly for the roles the regulation does not
give that work) and with a service token.

The expected matrix below is written from the regulation, independently of the services' own
rule tables (`services/*/domain/access.py`, never imported here), so a wrong rule there shows up as
a difference. A route the matrix does not cover fails the test: a new route needs a decision.

Who does what, in the regulation's words (../shared/docs/requirements.md):
- the clerk is the single focal point for sending and receiving (R-5.3): registers (R-6.3),
  digitises (R-6.5), checks the format, numbers, agency-signs and issues (R-7.2), tracks issuing,
  paper copies and replies (R-5.2, R-7.5); the agency key is theirs (R-8.2);
- the chairman and vice-chairmen assign (R-6.4), review, return or approve drafts (R-6.3, R-7.1),
  decide recalls (R-7.4), approve the dossier catalogue (R-10.1) and see every piece of work
  (R-9.4); only the chairman permits the agency key to someone else (R-8.3a) and approves a
  destruction (R-11.1, the head of the agency);
- officers handle what they are given (R-6.4), draft (R-6.3), keep, fill and close dossiers
  (R-10.2, R-10.5) and see their work (R-9.4, R-15.1);
- the agency archive checks, receives and manages archival dossiers (R-11.1, R-11.3);
- the operator runs the database, infrastructure and software and reports on service health,
  queues, failures and security (R-13) — technical things, never the documents themselves;
- a service, with its own token, fetches what another service keeps by hash and reads what it
  needs to do its work.
"""

from __future__ import annotations

import re

import httpx
import pytest

from shared.auth import PORTAL_ISSUER, TokenIssuer
from staff_http import http

pytestmark = pytest.mark.e2e

CLERK, CHAIRMAN, VICE, OFFICER, ARCHIVIST, OPERATOR, SERVICE = (
    "clerk", "chairman", "vice_chairman", "officer", "archivist", "operator", "service")
ROLES = (CLERK, CHAIRMAN, VICE, OFFICER, ARCHIVIST, OPERATOR)
USERS = {CLERK: "vanthu", CHAIRMAN: "chutich", VICE: "phochutich", OFFICER: "cc.vanphong", ARCHIVIST: "luutru",
         OPERATOR: "vanhanh"}
SERVICES = ("gateway", "intake", "dispatch", "signing", "archive")
OPEN = {"/healthz", "/readyz", "/metrics"}  # probes (and /docs, /openapi.json, not in the schema)

LEADERS = {CHAIRMAN, VICE}
# Everyone whose work is documents reads them; the operator does not.
DOCUMENT_READERS = {CLERK, CHAIRMAN, VICE, OFFICER, ARCHIVIST}
# The registers are the clerk's books, read by leaders and by the archive.
REGISTER_READERS = {CLERK, CHAIRMAN, VICE, ARCHIVIST}
# Who keeps a dossier: officers, the clerk for the office's own, leaders.
KEEPERS = {OFFICER, CLERK, CHAIRMAN, VICE}
# Integrity of what is kept: the archive and the operator, and the schedulers.
INTEGRITY = {ARCHIVIST, OPERATOR, SERVICE}
# Per-officer figures: leaders see everyone's, an officer their own row.
OFFICER_FIGURES = LEADERS | {OFFICER}
# Yearly reports on how the regulation is applied: compiled by the clerk, read by leaders,
# the archive's part by the archivist; the operator reports on the system instead.
YEAR_REPORT = {CLERK, CHAIRMAN, VICE, ARCHIVIST}
BLOBS = {("GET", "/blobs/{sha256}"): {SERVICE}}  # files by hash travel between services only
# The operator's console on every service: status, dead letters, replay and discard.
OPS = {("GET", "/ops/status"): {OPERATOR}, ("GET", "/ops/dead-letters"): {OPERATOR},
       ("GET", "/ops/dead-letters/{dead_letter_id}"): {OPERATOR},
       ("POST", "/ops/dead-letters/{dead_letter_id}/replay"): {OPERATOR},
       ("POST", "/ops/dead-letters/{dead_letter_id}/discard"): {OPERATOR}}

EXPECTED: dict[str, dict[tuple[str, str], set[str]]] = {
    "gateway": {
        **BLOBS,
        **OPS,
        # the exchange with the axis: the clerk's; the link itself is the operator's
        ("GET", "/packages"): {CLERK, OPERATOR, SERVICE},
        ("GET", "/packages/{package_id}"): {CLERK, OPERATOR, SERVICE},
        ("GET", "/sends"): {CLERK, OPERATOR, SERVICE},
        ("GET", "/sends/{send_id}"): {CLERK, OPERATOR, SERVICE},
        ("POST", "/poll"): {CLERK, OPERATOR},
        ("GET", "/evidence"): {OPERATOR},  # the evidence log of the exchange
        ("GET", "/evidence/verify"): {OPERATOR},
    },
    "intake": {
        **BLOBS,
        **OPS,
        ("GET", "/documents"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/documents/{key}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/documents/{key}/audit"): DOCUMENT_READERS | {SERVICE},  # the document's page in the portal
        ("GET", "/documents/by-package/{package_id}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/register/{year}"): REGISTER_READERS,
        ("GET", "/register/{year}/rows"): REGISTER_READERS,
        ("GET", "/register/{year}/export.{fmt}"): REGISTER_READERS,
        # the chairman's queue (R-6.3): the leaders' to assign from, the clerk's who fills it
        ("GET", "/handling/awaiting-assignment"): LEADERS | {CLERK},
        ("POST", "/documents/{key}/forward"): {CLERK},  # the clerk sends it to the chairman
        ("POST", "/documents/{key}/assignment"): LEADERS,
        ("POST", "/documents/{key}/handling/{officer}/received"): {OFFICER},
        ("POST", "/documents/{key}/handling/{officer}/progress"): {OFFICER},
        ("POST", "/documents/{key}/handling/{officer}/completed"): {OFFICER},
        ("GET", "/officers/{officer}/work"): LEADERS | {OFFICER},
        ("GET", "/staff"): set(ROLES) | {SERVICE},  # names and roles: everyone's directory
        ("POST", "/digitisations"): {CLERK},
        ("GET", "/reports/officers"): OFFICER_FIGURES,
        ("GET", "/reports/year/{year}"): YEAR_REPORT,
    },
    "dispatch": {
        **BLOBS,
        **OPS,
        ("POST", "/outgoing"): {CLERK},  # the clerk issues
        ("GET", "/outgoing"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/outgoing/{key}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/outgoing/{key}/audit"): DOCUMENT_READERS | {SERVICE},  # the document's page in the portal
        ("POST", "/outgoing/{key}/approve"): LEADERS,  # the leader approves himself
        ("POST", "/outgoing/{key}/return"): LEADERS,
        ("POST", "/outgoing/{key}/recall"): LEADERS,  # a leader's decision
        ("POST", "/outgoing/{key}/cancel"): {CLERK} | LEADERS,  # R-7.2b
        ("POST", "/outgoing/{key}/format-check"): {CLERK},
        ("POST", "/outgoing/{key}/paper/{organ_id}"): {CLERK},
        ("GET", "/paper/pending"): {CLERK} | LEADERS,
        ("GET", "/replies/owed"): {CLERK, OFFICER} | LEADERS,
        ("GET", "/deliveries/unacknowledged"): {CLERK} | LEADERS,
        # R-4.2a, R-7.5: the clerk tracks issuing, leaders steer; it lists codes and subjects, so
        # not the operator
        ("GET", "/issuing/late"): {CLERK} | LEADERS,
        ("GET", "/register/{year}"): REGISTER_READERS,
        ("GET", "/register/{year}/rows"): REGISTER_READERS,
        ("GET", "/register/{year}/export.{fmt}"): REGISTER_READERS,
        ("POST", "/drafts"): {OFFICER, CLERK},
        ("POST", "/drafts/{draft_id}/versions"): {OFFICER, CLERK},
        ("POST", "/drafts/{draft_id}/submit"): {OFFICER, CLERK},
        ("POST", "/drafts/{draft_id}/return"): LEADERS,  # leaders review drafts
        ("POST", "/drafts/{draft_id}/approve"): LEADERS,
        ("GET", "/drafts"): {OFFICER, CLERK} | LEADERS,
        ("GET", "/drafts/{draft_id}"): {OFFICER, CLERK} | LEADERS,
        ("GET", "/reports/officers"): OFFICER_FIGURES,
        ("GET", "/reports/year/{year}"): YEAR_REPORT,
    },
    "signing": {
        **BLOBS,
        **OPS,
        # the keys' certificates and every use of a key: the holders, leaders, and the operator
        # for security
        ("GET", "/keys"): {CLERK, OPERATOR, SERVICE} | LEADERS,
        ("GET", "/signatures/{request_id}"): {CLERK, OPERATOR, SERVICE} | LEADERS,
        ("POST", "/delegations"): {CHAIRMAN},  # R-8.3a
        ("POST", "/delegations/{delegation_id}/revoke"): {CHAIRMAN},
        ("GET", "/delegations"): {CLERK, OPERATOR} | LEADERS,
        ("GET", "/reports/year/{year}"): YEAR_REPORT,
    },
    "archive": {
        **BLOBS,
        **OPS,
        ("GET", "/records"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/records/{rid}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/records/{rid}/files/{sha256}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/search"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/catalogue/{year}"): DOCUMENT_READERS | {SERVICE},
        ("POST", "/catalogue/{year}/entries"): LEADERS,  # approved by the leaders
        ("POST", "/catalogue/{year}/proposals"): KEEPERS,  # a dossier outside it, proposed
        ("POST", "/catalogue/{year}/proposals/{notation}/decision"): LEADERS,  # … and approved
        ("GET", "/dossiers"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/dossiers/{code}"): DOCUMENT_READERS | {SERVICE},
        ("GET", "/dossiers/due-for-submission"): DOCUMENT_READERS | {SERVICE},
        ("POST", "/dossiers"): KEEPERS,
        ("PATCH", "/dossiers/{code}"): KEEPERS,
        ("POST", "/dossiers/{code}/items"): KEEPERS,
        ("DELETE", "/dossiers/{code}/items/{record_id}"): KEEPERS,
        ("POST", "/dossiers/{code}/materials"): KEEPERS,
        ("POST", "/dossiers/{code}/close"): KEEPERS,
        ("POST", "/dossiers/{code}/reopen"): KEEPERS,
        ("POST", "/dossiers/{code}/submit"): KEEPERS,
        ("POST", "/dossiers/{code}/review"): {ARCHIVIST},  # the archive checks,
        ("POST", "/dossiers/{code}/accept"): {ARCHIVIST},  # receives
        ("POST", "/dossiers/{code}/return"): {ARCHIVIST},  # or sends back
        # destruction proposed by the archive, approved by the head of the agency only,
        # refused by any leader; restored from the bin by either; held by the archive or leaders
        ("POST", "/dossiers/{code}/disposal/propose"): {ARCHIVIST},
        ("POST", "/dossiers/{code}/disposal/approve"): {CHAIRMAN},
        ("POST", "/dossiers/{code}/disposal/reject"): LEADERS,
        ("POST", "/dossiers/{code}/disposal/restore"): {ARCHIVIST, CHAIRMAN},
        ("POST", "/dossiers/{code}/hold"): {ARCHIVIST} | LEADERS,
        ("POST", "/dossiers/{code}/hold/release"): {ARCHIVIST} | LEADERS,
        ("GET", "/dossiers/expired"): {ARCHIVIST} | LEADERS,
        ("GET", "/tombstones"): {ARCHIVIST} | LEADERS,
        ("GET", "/dossiers/{code}/export"): {ARCHIVIST} | LEADERS,
        ("POST", "/dossiers/import"): {ARCHIVIST},
        ("POST", "/fixity/run"): INTEGRITY,
        ("GET", "/fixity/runs"): INTEGRITY,
        ("GET", "/fixity/runs/{run_id}"): INTEGRITY,
        ("GET", "/alerts"): INTEGRITY,
        ("POST", "/preservation/run"): INTEGRITY,
        ("GET", "/preservation/runs"): INTEGRITY,
        ("GET", "/preservation/runs/{run_id}"): INTEGRITY,
        # hashes, signatures and timestamps of a record's files, not their content
        ("GET", "/preservation/records/{rid}"): INTEGRITY | DOCUMENT_READERS,
        ("GET", "/reports/officers"): OFFICER_FIGURES,
        ("GET", "/reports/year/{year}"): YEAR_REPORT,
    },
}

DUMMY = {"year": "2026", "fmt": "xlsx", "sha256": "0" * 64}


def fill(path: str, caller: str) -> str:
    """Harmless dummy values; the officer in a path is the caller (they act only as themselves)."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        return caller if name == "officer" else DUMMY.get(name, "khong-co")

    return re.sub(r"\{([^}]+)\}", value, path)


def token(role: str, callee: str) -> str:
    if role == SERVICE:  # another service's own token, as a service-to-service call carries
        other = "archive" if callee != "archive" else "intake"
        return http.service_token(other)
    return TokenIssuer(http.keys_dir, PORTAL_ISSUER).mint(USERS[role], role, USERS[role])


def routes(base: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{base}/openapi.json", timeout=30)
    assert schema.status_code == 200, "the OpenAPI page stays open"
    return sorted((method.upper(), path) for path, ops in schema.json()["paths"].items() for method in ops)


def refused_by_rule(response: httpx.Response, method: str, path: str) -> bool:
    """The service's access rule refused it (not a domain rule deeper in, which says why)."""
    if response.status_code != 403:
        return False
    detail = response.json().get("detail")
    return isinstance(detail, str) and detail.startswith("Vai trò «") and f"{method} {path}" in detail


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_answers_each_role_as_the_regulation_says(system, service):
    stack, urls = system
    base = urls[service]
    listed = routes(base)
    uncovered = [f"{m} {p}" for m, p in listed if p not in OPEN and (m, p) not in EXPECTED[service]]
    assert not uncovered, f"{service}: routes the matrix does not cover (decide who may call them): {uncovered}"

    wrong = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for method, path in listed:
            if path in OPEN:
                assert client.request(method, path).status_code == 200, path
                continue
            anonymous = client.request(method, fill(path, "cc.vanphong"))
            if anonymous.status_code != 401:
                wrong.append(f"{method} {path} without a token: {anonymous.status_code}")
            forged = client.request(method, fill(path, "vanthu"), headers={"Authorization": "Bearer x.y.z"})
            if forged.status_code != 401:
                wrong.append(f"{method} {path} with a forged token: {forged.status_code}")
            allowed = EXPECTED[service][(method, path)]
            domain_refusals = []
            for role in (*ROLES, SERVICE):
                caller = USERS.get(role, "cc.vanphong")
                answer = client.request(method, fill(path, caller),
                                        headers={"Authorization": f"Bearer {token(role, service)}"})
                if role in allowed:
                    if answer.status_code == 401 or refused_by_rule(answer, method, path):
                        wrong.append(f"{method} {path} as {role}: {answer.status_code} {answer.text[:120]}, expected through")
                    elif answer.status_code == 403:
                        domain_refusals.append(f"{method} {path} as {role}: {answer.text[:120]}")
                    elif answer.status_code >= 500:
                        wrong.append(f"{method} {path} as {role}: {answer.status_code} {answer.text[:120]}")
                elif not refused_by_rule(answer, method, path):
                    wrong.append(f"{method} {path} as {role}: {answer.status_code} {answer.text[:120]}, expected 403")
            print(*domain_refusals, sep="\n")
    assert not wrong, "\n".join(wrong)


IDENTITY_CASES = [
    # (service, method, path, body, caller, named): a body that is otherwise valid, in another's name
    ("intake", "POST", "/documents/khong-co/assignment",
     {"by": "phochutich", "lead": {"officer": "cc.tuphap", "working_days": 3}}, "chutich", "phochutich"),
    ("intake", "POST", "/documents/khong-co/handling/cc.tuphap/received", None, "cc.vanphong", "cc.tuphap"),
    ("dispatch", "POST", "/drafts/khong-co/approve", {"by": "phochutich"}, "chutich", "phochutich"),
    ("dispatch", "POST", "/outgoing/khong-co/recall", {"by": "phochutich", "reason": "x"}, "chutich", "phochutich"),
    ("dispatch", "POST", "/outgoing/khong-co/cancel", {"by": "chutich", "reason": "x"}, "vanthu", "chutich"),
    ("signing", "POST", "/delegations/khong-co/revoke", {"revoked_by": "phochutich", "reason": "x"}, "chutich", "phochutich"),
    ("archive", "POST", "/dossiers/000.24.26.H56.2026.99.VP/close", {"by": "cc.tuphap"}, "cc.vanphong", "cc.tuphap"),
    ("archive", "POST", "/dossiers/000.24.26.H56.2026.99.VP/disposal/approve", {"by": "phochutich"}, "chutich", "phochutich"),
]


@pytest.mark.parametrize(("service", "method", "path", "body", "caller", "named"), IDENTITY_CASES,
                         ids=[f"{c[0]}{c[2]}" for c in IDENTITY_CASES])
def test_nobody_acts_in_another_users_name(system, service, method, path, body, caller, named):
    """R-15.5: a `by` (or the officer in the path) that is not the token's user is refused 403,
    even for a role that may do the thing; as themself the same call goes through to the domain."""
    stack, urls = system
    url = f"{urls[service]}{path}"
    refused = http.request(method, url, json=body, as_=caller)
    assert refused.status_code == 403, refused.text
    assert "thay người khác" in refused.json()["detail"] and named in refused.json()["detail"]
    own = {k: caller for k in ("by", "revoked_by") if body and k in body}
    as_self = http.request(method, url.replace(f"/{named}/", f"/{caller}/"), json={**(body or {}), **own} if body else None,
                           as_=caller)
    assert as_self.status_code in (404, 422), as_self.text  # through the rule and the name, to the domain


def test_a_chairmans_token_cannot_grant_a_delegation_in_the_vice_chairmans_name(system):
    stack, urls = system
    body = {"user": "cc.vanphong", "key_label": "agency", "valid_from": "2026-12-01T08:00:00+07:00",
            "valid_until": "2026-12-03T17:00:00+07:00", "document": "07/GUQ-UBND"}
    refused = http.post(f"{urls['signing']}/delegations", json={**body, "granted_by": "phochutich"}, as_="chutich")
    assert refused.status_code == 403 and "thay người khác" in refused.json()["detail"]
    listed = http.get(f"{urls['signing']}/delegations", as_="chutich")
    assert listed.status_code == 200 and not [d for d in listed.json() if d["document"] == "07/GUQ-UBND"]
