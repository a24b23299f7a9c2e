"""Property tests (issue 3): thousands of malformed envelopes. Whatever the damage, reading a
package either yields a valid package or an EdxmlError naming the fields, never another
exception; a refusal built from those errors always carries a Vietnamese reason for the
sender (R-3.4, R-6.1); `peek_header`, which routes even broken packages, never raises."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.domain.verification import Outcome, VerificationReport, structure_checks
from shared.edxml import EdocPackage, EdxmlError, StatusPackage, build_edoc, parse_edoc, parse_package, peek_header
from tests.unit.edxml.test_edxml import package

VALID = build_edoc(package())
LEAVES = [m.span() for m in re.finditer(rb"<edXML:(\w+)>[^<]*</edXML:\1>", VALID)]
TEXTS = [m.span(1) for m in re.finditer(rb">([^<]+)<", VALID)]

mutation = st.one_of(
    st.tuples(st.just("drop_leaf"), st.sampled_from(LEAVES)),
    st.tuples(st.just("truncate"), st.integers(0, len(VALID))),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, len(VALID)), st.binary(min_size=1, max_size=8))),
    st.tuples(st.just("retext"), st.tuples(st.sampled_from(TEXTS), st.text(max_size=12))),
    st.tuples(st.just("flip"), st.integers(0, len(VALID) - 1)),
)


def apply(data: bytes, change) -> bytes:
    """Positions come from the intact package; earlier changes may have moved or cut it, so
    spans are clipped to what is left."""
    kind, arg = change
    size = len(data)
    if kind == "drop_leaf":
        start, end = (min(x, size) for x in arg)
        return data[:start] + data[end:]
    if kind == "truncate":
        return data[:arg]
    if kind == "insert":
        at, blob = arg
        at = min(at, size)
        return data[:at] + blob + data[at:]
    if kind == "retext":
        (start, end), text = arg
        start, end = min(start, size), min(end, size)
        return data[:start] + text.encode("utf-8", "surrogatepass") + data[end:]
    if not size:
        return data
    data = bytearray(data)
    data[arg % size] ^= 0x5A
    return bytes(data)


def check_outcome(data: bytes) -> None:
    peek_header(data)  # never raises
    try:
        result = parse_package(data)
    except EdxmlError as exc:
        assert exc.errors and all(e.path and e.message_vi for e in exc.errors)
        report = VerificationReport(tuple(structure_checks(exc.errors)))
        assert report.verdict == Outcome.FAILED
        assert report.refusal_reason_vi().startswith("Từ chối tiếp nhận")
    else:
        assert isinstance(result, (EdocPackage, StatusPackage))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_damaged_envelopes_end_as_packages_or_named_refusals(changes):
    data = VALID
    for change in changes:
        data = apply(data, change)
    check_outcome(data)  # lone surrogates arrive as invalid UTF-8 bytes, as a broken sender would send them


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_are_refused_by_name(data):
    try:
        parse_edoc(data)
    except EdxmlError as exc:
        assert exc.errors[0].path
    assert peek_header(data).kind in (None, "edoc", "status")
