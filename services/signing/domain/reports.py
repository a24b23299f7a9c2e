"""Signatures made in a year, per key (R-12.6, R-8.2, R-8.3a), pure rules: every use of every key
is a row of the `signatures` collection (signed or refused, with the custody basis — the key's
holder or a recorded delegation — and the signature level); the yearly report counts them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from shared.report_period import Period

ROLE_LABELS_VI = {"leader": "Chữ ký lãnh đạo", "agency": "Chữ ký cơ quan", "annex": "Chữ ký cơ quan trên phụ lục",
                  "digitised": "Chữ ký cơ quan trên bản số hóa"}


def custody_kind(basis: str | None) -> str:
    if not basis:
        return "none"
    return "delegation" if basis.startswith("delegation") else basis


def yearly_report(signatures: Iterable[dict], period: Period) -> dict:
    keys: dict[str, dict] = {}
    for row in signatures:
        if not period.contains(row.get("at")):
            continue
        key = keys.setdefault(row.get("key_label") or "?", {"signed": 0, "refused": 0, "by_role": Counter(),
                                                               "by_level": Counter(), "by_custody": Counter()})
        if row.get("outcome") == "signed":
            key["signed"] += 1
            key["by_role"][row.get("role") or "?"] += 1
            key["by_level"][row.get("level") or "?"] += 1
            key["by_custody"][custody_kind(row.get("custody"))] += 1
        else:
            key["refused"] += 1
    return {"signatures": {
        "signed": sum(k["signed"] for k in keys.values()), "refused": sum(k["refused"] for k in keys.values()),
        "by_key": {label: {"signed": k["signed"], "refused": k["refused"], "by_role": dict(k["by_role"].most_common()),
                           "by_level": dict(k["by_level"].most_common()), "by_custody": dict(k["by_custody"].most_common())}
                   for label, k in sorted(keys.items())},
        "role_labels": ROLE_LABELS_VI,
    }}
