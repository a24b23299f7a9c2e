"""HTTP calls to the services as a named member of staff, with the short-lived token the portal
would mint for them (R-15.5: every service API refuses calls without one).

`http.post(url, json={"by": "chutich", ...})` calls as the chairman; the caller is `as_=` when
given, else the user the request names (`by`, `user`, `author`, `requested_by`, `granted_by`,
`revoked_by`, `clerk` in the JSON body, form data or query; the officer in `/handling/{officer}/` and
`/officers/{officer}/work`), else the clerk. `/blobs/…` is fetched with a service token.
The keys are the running system's (`use_keys`, called by the e2e system fixture).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from shared.auth import PORTAL_ISSUER, TokenIssuer
from shared.config import REPO_ROOT
from shared.staff import load_staff

DEFAULT_USER = "vanthu"
# the actor's field first: in a delegation `user` is the delegate, `granted_by` the one who acts
_NAMED = ("by", "granted_by", "revoked_by", "requested_by", "author", "clerk", "user")
_PATH_USER = re.compile(r"/handling/([^/?]+)/(?:received|progress|completed)/|/officers/([^/?]+)/work/")


class StaffHttp:
    def __init__(self, keys_dir: Path | None = None, staff_file: Path = REPO_ROOT / "deploy" / "staff.json") -> None:
        self.keys_dir = keys_dir
        self.staff_file = staff_file

    def use_keys(self, keys_dir: Path | str) -> None:
        self.keys_dir = Path(keys_dir)

    def token(self, user: str, role: str | None = None) -> str:
        """The portal's token for `user` with their role in the staff file (an unknown user is an
        officer), or with `role` when given (a role nobody in the staff file holds yet)."""
        assert self.keys_dir is not None, "no system keys yet: the e2e system fixture sets them"
        member = load_staff(self.staff_file).get(user)
        role = role or (member.role.value if member else "officer")
        return TokenIssuer(self.keys_dir, PORTAL_ISSUER).mint(user, role, member.name if member else user)

    def service_token(self, service: str = "gateway") -> str:
        assert self.keys_dir is not None
        return TokenIssuer(self.keys_dir, service).service_token()

    def headers(self, user: str, role: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, role)}"}

    def caller(self, url: str, kwargs: dict[str, Any]) -> str | None:
        for source in (kwargs.get("json"), kwargs.get("data"), kwargs.get("params")):
            if isinstance(source, dict):
                for name in _NAMED:
                    value = source.get(name)
                    if isinstance(value, str) and value:
                        return value.removeprefix("user:")
        query = httpx.URL(url).params
        for name in _NAMED:
            if query.get(name):
                return query[name]
        if match := _PATH_USER.search(httpx.URL(url).path + "/"):
            return match.group(1) or match.group(2)
        return None

    def request(self, method: str, url: str, *, as_: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if "authorization" not in {k.lower() for k in headers}:
            if "/blobs/" in url and as_ is None:
                headers["Authorization"] = f"Bearer {self.service_token()}"
            else:
                headers.update(self.headers(as_ or self.caller(url, kwargs) or DEFAULT_USER))
        kwargs.setdefault("timeout", 30)
        return httpx.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def approve_outgoing(self, dispatch_url: str, key: str, leader: str = "chutich", **kwargs: Any) -> httpx.Response:
        """The leader's own approval of a document the clerk handed in (R-7.1, R-8.2): only then
        does his key sign it."""
        return self.post(f"{dispatch_url}/outgoing/{key}/approve", json={"by": leader}, **kwargs)


http = StaffHttp()


def wait_until(fetch, predicate, *, timeout: float = 120.0, interval: float = 0.5, what: str = "condition"):
    """Poll `fetch()` until `predicate` holds for its value; the last value is in the failure."""
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if predicate(last):
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached in {timeout}s; last value: {last!r}")


def get_or_none(url: str, as_: str | None = None):
    """A service's JSON answer (as the caller `http` infers, or `as_`), None while it is not there;
    a refused token or role fails at once rather than looking like "not yet" (R-15.5)."""
    response = http.get(url, as_=as_, timeout=30)
    assert response.status_code not in (401, 403), (url, response.status_code, response.text)
    return response.json() if response.status_code == 200 else None
