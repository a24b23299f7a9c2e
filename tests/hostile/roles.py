"""Which member of staff calls an operation in the hostile-input runs: one whose role the
service's own rule table (`services/*/domain/access.py`) allows, so calls get past the 401/403
layer (R-15.5) and reach the code that reads the input."""

from __future__ import annotations

import importlib

from shared.auth import BLOB_RULE, SERVICE_ROLE

# The staff file's members per role (deploy/staff.json); the clerk first: most routes are hers.
USER_OF_ROLE = {"clerk": "vanthu", "chairman": "chutich", "officer": "cc.vanphong", "archivist": "luutru",
                "operator": "vanhanh", "vice_chairman": "phochutich"}
PREFERENCE = ("clerk", "chairman", "officer", "archivist", "operator", "vice_chairman", SERVICE_ROLE)
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


def access_table(service: str) -> dict[tuple[str, str], frozenset[str]]:
    """The rules shared/service.py applies: its own routes' (blobs, the operator's /ops/…) and the service's."""
    table = dict(BLOB_RULE)
    try:
        table.update(importlib.import_module("shared.ops_api").OPS_RULES)
    except (ImportError, AttributeError):  # before the operator console's routes exist
        pass
    table.update(importlib.import_module(f"services.{service}.domain.access").ACCESS)
    return table


def caller_for(service: str, method: str, path: str) -> str | None:
    """The role to call with: None for the open probes, else the first allowed in PREFERENCE."""
    if path in OPEN_PATHS:
        return None
    allowed = access_table(service).get((method.upper(), path))
    assert allowed, f"{service} {method} {path}: no rule in domain/access.py"
    return next(role for role in PREFERENCE if role in allowed)
