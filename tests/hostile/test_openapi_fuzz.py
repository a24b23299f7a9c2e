"""Property-based calls against every service's OpenAPI, and the portal's pages, on the whole
running system (issue 7 item 8; R-13, R-15.5, R-3.4): schemathesis generates requests from each `/openapi.json` (data
that fits the schema and data that does not), each call carries the token of a role the route
allows (tests/hostile/roles.py), and the property is: no 5xx, ever, and each answer conforms to
the schema where one is declared. Bad input must get a clear 4xx.

Bounded for a loaded 2-core machine: VANTHU_FUZZ_EXAMPLES examples per operation and mode
(default 15; the portal 5), no deadline, derandomized (the same run every time). Every failure of a service is
collected, so one run lists them all. (schemathesis.pytest.from_fixture reads a pytest attribute
pytest 9 removed, so the operations are walked here with hypothesis directly.)"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from staff_http import http
from tests.hostile.roles import PREFERENCE, USER_OF_ROLE, caller_for

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("VANTHU_FUZZ_EXAMPLES", "15"))
PORTAL_EXAMPLES = int(os.environ.get("VANTHU_FUZZ_PORTAL_EXAMPLES", "5"))  # each page calls the services
SERVICES = ("gateway", "intake", "dispatch", "signing", "archive")
CHECKS = [not_a_server_error, response_schema_conformance]
PROBES = r"^/(healthz|readyz|metrics)$"  # open and fixed, nothing to fuzz


def headers_for(service: str, method: str, path: str) -> dict[str, str]:
    role = caller_for(service, method, path)
    if role is None:
        return {}
    if role == "service":
        return {"Authorization": f"Bearer {http.service_token()}"}
    return http.headers(USER_OF_ROLE[role], role)


def fuzz_service(url: str, service: str, examples: int = EXAMPLES, *, exclude: str = PROBES, prepare=None,
                 **call_kwargs) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """Every operation of one service, both generation modes: (failures as (operation, mode, what), counts).
    `prepare(case)` gives the headers of the call (default: a token of an allowed role)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(path_regex=exclude)
    prepare = prepare or (lambda case: headers_for(service, case.method, case.path))
    failures: list[tuple[str, str, str]] = []
    counts = {"operations": 0, "calls": 0}
    for result in schema.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(operation.as_strategy(generation_mode=mode))
            def run(case):
                counts["calls"] += 1
                case.call_and_validate(headers=prepare(case), checks=CHECKS, timeout=60, **call_kwargs)

            try:
                run()
            except Unsatisfiable:  # e.g. only free-form strings: no invalid data exists for it
                counts["no_negative"] = counts.get("no_negative", 0) + 1
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
                failures.append((operation.label, mode.value, f"{type(exc).__name__}: {str(exc)[:1500]}"))
    return failures, counts


@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_answers_match_the_schema(system, service):
    _stack, urls = system
    started = time.monotonic()
    failures, counts = fuzz_service(urls[service], service)
    print(f"\n{service}: {counts['operations']} operations, {counts['calls']} calls, "
          f"{len(failures)} failing, {time.monotonic() - started:.0f} s")
    assert counts["operations"] > 0 and counts["calls"] >= counts["operations"]
    assert not failures, "\n\n".join(f"{label} [{mode}]\n{what}" for label, mode, what in failures)


# --- the portal's pages --------------------------------------------------------------------------
# Signed in as each role (first sign-in changes the password, R-15.2), the session cookie and its
# CSRF token on every call, so forms reach their handlers. Not fuzzed: signing in and out and the
# password change (they would lock the accounts or end the sessions the run depends on).
PORTAL_SKIPPED = r"^/(healthz|readyz|metrics|dang-nhap|dang-xuat|doi-mat-khau)$"


def portal_sessions(url: str) -> dict[str, tuple[str, str]]:
    from tests.e2e.test_reports import CSRF, NEW_PASSWORD, Portal

    sessions = {}
    for role, user in USER_OF_ROLE.items():
        browser = Portal(url)
        again = browser.form("/dang-nhap", "/dang-nhap", {"user": user, "password": NEW_PASSWORD, "next": ""})
        if again.status_code != 303:  # not signed in before on this system: the first sign-in
            browser = Portal(url).sign_in(user)
        page = browser.get("/doi-mat-khau")
        token = CSRF.search(page.text)
        assert token, page.text[:300]
        sessions[role] = ("; ".join(f"{k}={v}" for k, v in browser.cookies.items()), token.group(1))
    return sessions


def portal_caller(method: str, path: str) -> str | None:
    from services.portal.domain.access import ANONYMOUS
    from services.portal.entrypoints.app import access

    from shared.auth import BLOB_RULE

    allowed = {**BLOB_RULE, **access}.get((method.upper(), path))
    assert allowed, f"portal {method} {path}: no rule"
    if ANONYMOUS in allowed:
        return None
    return next(role for role in PREFERENCE if role in allowed)


def fuzz_portal(url: str, examples: int = PORTAL_EXAMPLES):
    sessions = portal_sessions(url)

    def prepare(case) -> dict[str, str]:
        role = portal_caller(case.method, case.path)
        if role is None:
            return {}
        if role == "service":
            return {"Authorization": f"Bearer {http.service_token()}"}
        cookie, token = sessions[role]
        if isinstance(case.body, dict):
            case.body["csrf_token"] = token
        return {"Cookie": cookie}

    return fuzz_service(url, "portal", examples, exclude=PORTAL_SKIPPED, prepare=prepare, allow_redirects=False)


def test_no_server_error_on_the_portal_pages(system):
    _stack, urls = system
    started = time.monotonic()
    failures, counts = fuzz_portal(urls["portal"])
    print(f"\nportal: {counts['operations']} operations, {counts['calls']} calls, {len(failures)} failing, "
          f"{time.monotonic() - started:.0f} s")
    assert counts["operations"] > 20
    assert not failures, "\n\n".join(f"{label} [{mode}]\n{what}" for label, mode, what in failures)
