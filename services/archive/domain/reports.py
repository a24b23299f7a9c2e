"""Reports from the archive's own records (R-9.4, R-12.4, R-12.6, R-10.5, R-11.1, R-11.3), pure
rules: given the stored dossiers (with their history), catalogue entries, records and tombstones
and a period, the figures.

Per officer, the keeper of the dossiers (its `creator`, R-12.4 "archiving"): dossiers `opened`,
`closed` (R-10.5), `submitted` to the agency archive, `accepted` by it (R-11.3) and `returned`
by it in the period — each dossier once per kind of event, from its history — the documents
they `filed` into their dossiers in the period, and the dossiers `open_at_end` (opened,
reopened or returned, and not closed since) at the end of the period (or now).

Yearly (R-12.6): the catalogue of the year (planned, proposed outside it, approved, refused),
dossiers opened, closed, submitted, accepted, returned; disposals proposed, approved, rejected,
restored and destroyed (R-11.1); legal holds; documents kept by the archive, by source.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from shared.report_period import Period, moment

OFFICER_FIGURES = ("opened", "filed", "closed", "submitted", "accepted", "returned", "open_at_end")
FIGURE_LABELS_VI = {
    "opened": "Hồ sơ đã lập", "filed": "Văn bản đưa vào hồ sơ", "closed": "Hồ sơ đã đóng",
    "submitted": "Hồ sơ đã nộp lưu", "accepted": "Hồ sơ được Lưu trữ tiếp nhận", "returned": "Hồ sơ bị trả lại",
    "open_at_end": "Hồ sơ đang lập (cuối kỳ)",
}
EVENTS = {"opened": "opened", "closed": "closed", "submitted": "submitted", "accepted": "accepted", "returned": "returned"}
OPENING = ("opened", "reopened", "returned")


def empty_figures() -> dict:
    return {name: 0 for name in OFFICER_FIGURES}


def events(dossier: dict, action: str) -> list[dt.datetime]:
    return [m for h in dossier.get("history", []) if h.get("action") == action and (m := moment(h.get("at")))]


def open_at(dossier: dict, moment: dt.datetime) -> bool:
    """Was the dossier being kept (open for changes) at `moment`? The last opening event before
    it is later than the last closing one."""
    opening = max((m for a in OPENING for m in events(dossier, a) if m < moment), default=None)
    if opening is None:
        return False
    closing = max((m for m in events(dossier, "closed") if m < moment), default=None)
    return closing is None or closing < opening


def dossier_figures(dossier: dict, period: Period, *, as_of: dt.datetime) -> dict:
    figures = empty_figures()
    for name, action in EVENTS.items():
        figures[name] = int(any(period.contains(m) for m in events(dossier, action)))
    figures["filed"] = sum(period.contains(m) for m in events(dossier, "item_added"))
    figures["open_at_end"] = int(open_at(dossier, as_of))
    return figures


def officer_report(dossiers: Iterable[dict], period: Period, *, now: dt.datetime,
                   officers: Iterable[str] | None = None) -> dict[str, dict]:
    as_of = period.as_of(now)
    wanted = set(officers) if officers is not None else None
    rows: dict[str, dict] = {o: empty_figures() for o in (wanted or ())}
    for dossier in dossiers:
        keeper = dossier.get("creator")
        if wanted is not None and keeper not in wanted:
            continue
        row = rows.setdefault(keeper, empty_figures())
        for name, value in dossier_figures(dossier, period, as_of=as_of).items():
            row[name] += value
    return rows


def yearly_report(dossiers: Iterable[dict], catalogue: Iterable[dict], records: Iterable[dict],
                  tombstones: Iterable[dict], period: Period, *, year: int, now: dt.datetime) -> dict:
    as_of = period.as_of(now)
    entries = Counter()
    for entry in catalogue:
        if entry.get("year") == year:
            entries[entry.get("state", "approved")] += 1
            entries["proposed_outside"] += any(h.get("action") == "proposed" for h in entry.get("history", []))
    actions = ("opened", "closed", "submitted", "accepted", "returned", "reopened", "disposal_proposed", "disposal_approved",
               "disposal_rejected", "restored_from_bin", "hold_placed", "hold_released")
    counted = Counter()
    open_at_end = archival_at_end = 0
    for dossier in dossiers:
        for action in actions:
            counted[action] += any(period.contains(m) for m in events(dossier, action))
        open_at_end += open_at(dossier, as_of)
        archival_at_end += dossier.get("state") in ("archival", "disposal_proposed", "in_bin") and bool(
            (m := moment(dossier.get("archived_at"))) and m < as_of)
    kept = Counter(r.get("source", "?") for r in records if period.contains(r.get("stored_at")))
    destroyed = sum(period.contains(t.get("destroyed_at")) for t in tombstones)
    return {
        "catalogue": {"planned": entries["approved"] + entries["refused"] + entries["proposed"],
                      "approved": entries["approved"], "proposed_pending": entries["proposed"],
                      "refused": entries["refused"], "proposed_outside": entries["proposed_outside"]},
        "dossiers": {"opened": counted["opened"], "closed": counted["closed"], "reopened": counted["reopened"],
                     "submitted": counted["submitted"], "accepted": counted["accepted"], "returned": counted["returned"],
                     "open_at_end": open_at_end, "archival_at_end": archival_at_end},
        "disposal": {"proposed": counted["disposal_proposed"], "approved": counted["disposal_approved"],
                     "rejected": counted["disposal_rejected"], "restored": counted["restored_from_bin"],
                     "destroyed": destroyed, "holds_placed": counted["hold_placed"]},
        "records": {"kept": sum(kept.values()), "incoming": kept["incoming"], "outgoing": kept["outgoing"],
                    "material": kept["material"]},
    }
