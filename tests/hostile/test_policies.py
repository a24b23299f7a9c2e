"""The rules the hostile-input corpus relies on, in process and fast (issue 7 item 8): what a PDF
must not carry (shared/file_format.py `pdf_problems`), the edXML reader's refusals
(shared/edxml/parse.py), and zip members read no further than needed (file_format.detect)."""

from __future__ import annotations

import resource
import time

import pytest

from shared.edxml import EdxmlError, parse_edoc
from shared.file_format import detect, pdf_problems
from shared.pdfdocs import render_document
from tests.hostile import corpus


def test_a_plain_document_passes_and_each_hostile_pdf_is_named():
    document = render_document().pdf
    assert pdf_problems(document) == [] and pdf_problems(document, must_open=True) == []
    named = {
        "mã lệnh javascript": corpus.one_page_pdf(catalog_extra=b"/OpenAction 6 0 R", extra_objects=[corpus.JS]),
        "launch": corpus.one_page_pdf(catalog_extra=b"/OpenAction 6 0 R", extra_objects=[corpus.LAUNCH]),
        "/length": corpus.one_page_pdf(length=999_999),
        "trang": corpus.many_pages_pdf(20_000),
        "mã hóa": corpus.encrypted_pdf(document),
    }
    for fragment, pdf in named.items():
        assert any(fragment in p.lower() for p in pdf_problems(pdf)), (fragment, pdf_problems(pdf))
    assert pdf_problems(document[: len(document) // 2], must_open=True)


def test_a_flate_bomb_is_measured_not_inflated():
    bomb = corpus.one_page_pdf(corpus.deflated_zeros(corpus.GB), filter_=b"/Filter /FlateDecode ")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    assert any("bom nén" in p for p in pdf_problems(bomb))
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 100 * 1024  # KB: never held inflated
    assert time.monotonic() - started < 60


def test_an_office_zip_bomb_is_identified_without_inflating_it():
    bomb = corpus.zip_bomb("[Content_Types].xml", size=corpus.GB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    detect(bomb)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 100 * 1024


@pytest.mark.parametrize(("mutation", "fragment"), [
    (lambda b: b.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016", b"urn:example:other"), "namespace"),
    (lambda b: b.replace(b"</edXML:Subject>", "</edXML:Subject><edXML:Subject>Hai</edXML:Subject>".encode(), 1), "duplicate"),
    (lambda b: b.replace(b"?>", b'?><!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1), "doctype"),
    (lambda b: b.replace(b"?>", b"?>" + corpus.billion_laughs(), 1).replace(b"</edXML:Subject>", b"&lol10;</edXML:Subject>", 1),
     "amplification"),
])
def test_the_edxml_reader_refuses_with_the_reason(mutation, fragment):
    from tests.hostile.report import Runner

    _, data = Runner(None, {}, None).package(pdf=render_document().pdf)
    parse_edoc(data)  # the package itself is good
    with pytest.raises(EdxmlError) as refused:
        parse_edoc(mutation(data))
    assert fragment in str(refused.value).lower()
